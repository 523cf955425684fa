// Reading the dstack events out of receipts and logs. Every match requires the emitting
// address as well as the topic: a look-alike event from another contract in the same
// transaction is ignored (the SDK matches the topic only; see dstack-contracts.md §7.5).
#ifndef ONCHAIN_KMS_CHAIN_ONCHAIN_RECEIPTS_H_
#define ONCHAIN_KMS_CHAIN_ONCHAIN_RECEIPTS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "chain/address.h"
#include "chain/hash32.h"
#include "chain/jsonrpc/types.h"

namespace chain::onchain {

struct AppDeployedEvent {
  Address app_id;    // = the app's DstackApp contract address
  Address deployer;  // msg.sender of the factory call
  uint64_t log_index = 0;
};

// The AppDeployedViaFactory(appId, deployer) log emitted by `kms`. FAILED_PRECONDITION when
// there is none (the message counts same-topic logs from other addresses), or when logs from
// `kms` name different appIds. A repeated identical log is accepted.
absl::StatusOr<AppDeployedEvent> FindAppDeployed(const jsonrpc::Receipt& receipt, const Address& kms);

// True if `log` is ComposeHashAdded(hash) from `app` (topic0 + emitter + 32-byte data).
bool IsComposeHashAdded(const jsonrpc::Log& log, const Address& app, const Hash32& hash);

// OK if the receipt holds a ComposeHashAdded(hash) log from `app`; FAILED_PRECONDITION otherwise.
absl::Status VerifyComposeHashAdded(const jsonrpc::Receipt& receipt, const Address& app, const Hash32& hash);

// An indexed address topic: 12 zero bytes then the address. INVALID_ARGUMENT otherwise.
absl::StatusOr<Address> AddressFromTopic(const Hash32& topic);

// Decodes a single ABI address return word (owner()).
absl::StatusOr<Address> DecodeAddressWord(ByteView data);
// Decodes a single ABI bool return word (allowedComposeHashes()).
absl::StatusOr<bool> DecodeBoolWord(ByteView data);

}  // namespace chain::onchain

#endif  // ONCHAIN_KMS_CHAIN_ONCHAIN_RECEIPTS_H_
