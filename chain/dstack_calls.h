// Calldata of the two dstack contract calls the service sends, and the events it reads.
// Selectors and layouts: ../shared/facts/dstack-contracts.md §2-3 and §9.
#ifndef ONCHAIN_KMS_CHAIN_DSTACK_CALLS_H_
#define ONCHAIN_KMS_CHAIN_DSTACK_CALLS_H_

#include <optional>

#include "absl/status/statusor.h"
#include "chain/abi.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/hash32.h"

namespace chain {

// DstackKms factory (permissionless).
inline constexpr char kDeployAndRegisterApp5Signature[] = "deployAndRegisterApp(address,bool,bool,bytes32,bytes32)";
inline constexpr char kDeployAndRegisterApp6Signature[] =
    "deployAndRegisterApp(address,bool,bool,bool,bytes32,bytes32)";
inline constexpr abi::Selector kDeployAndRegisterApp5Selector = {0x86, 0x18, 0x16, 0x9d};
inline constexpr abi::Selector kDeployAndRegisterApp6Selector = {0x9c, 0xb9, 0xc3, 0x1f};
// DstackApp (onlyOwner).
inline constexpr char kAddComposeHashSignature[] = "addComposeHash(bytes32)";
inline constexpr abi::Selector kAddComposeHashSelector = {0xdf, 0xc7, 0x72, 0x23};

// Events (topic0 = keccak256 of these).
inline constexpr char kAppDeployedViaFactoryEvent[] = "AppDeployedViaFactory(address,address)";
inline constexpr char kAppRegisteredEvent[] = "AppRegistered(address)";
inline constexpr char kComposeHashAddedEvent[] = "ComposeHashAdded(bytes32)";
const Hash32& AppDeployedViaFactoryTopic();
const Hash32& AppRegisteredTopic();
const Hash32& ComposeHashAddedTopic();

struct DeployAndRegisterAppParams {
  Address initial_owner;
  bool disable_upgrades = false;
  bool allow_any_device = false;
  Hash32 initial_device_id;     // zero: no device added
  Hash32 initial_compose_hash;  // zero: no hash added
  // Set: the 6-argument overload (KMS versions from 2026-02 on) with this value.
  // Unset: the 5-argument overload every version has.
  std::optional<bool> require_tcb_up_to_date;

  friend bool operator==(const DeployAndRegisterAppParams&, const DeployAndRegisterAppParams&) = default;
};

// 164 bytes (5-arg) or 196 bytes (6-arg).
Bytes EncodeDeployAndRegisterApp(const DeployAndRegisterAppParams& params);
// 36 bytes.
Bytes EncodeAddComposeHash(const Hash32& compose_hash);

// Strict inverses, for a signer that checks what it is asked to sign: the selector must be one
// of the above, the length exact, addresses and bools canonical.
absl::StatusOr<DeployAndRegisterAppParams> DecodeDeployAndRegisterApp(ByteView calldata);
absl::StatusOr<Hash32> DecodeAddComposeHash(ByteView calldata);

}  // namespace chain

#endif  // ONCHAIN_KMS_CHAIN_DSTACK_CALLS_H_
