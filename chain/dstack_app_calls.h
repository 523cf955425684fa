// Governance calls of a DstackApp (AppAuth) contract: the device allow-list, ownership and the
// one-way upgrade freeze. All are onlyOwner except acceptOwnership (the pending owner, on
// two-step contracts). Selectors: ../shared/facts/dstack-contracts.md §3.1.
#ifndef ONCHAIN_KMS_CHAIN_DSTACK_APP_CALLS_H_
#define ONCHAIN_KMS_CHAIN_DSTACK_APP_CALLS_H_

#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/abi.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/hash32.h"

namespace chain {

inline constexpr char kAddDeviceSignature[] = "addDevice(bytes32)";
inline constexpr char kRemoveDeviceSignature[] = "removeDevice(bytes32)";
inline constexpr char kSetAllowAnyDeviceSignature[] = "setAllowAnyDevice(bool)";
inline constexpr char kTransferOwnershipSignature[] = "transferOwnership(address)";
inline constexpr char kAcceptOwnershipSignature[] = "acceptOwnership()";
inline constexpr char kDisableUpgradesSignature[] = "disableUpgrades()";
inline constexpr abi::Selector kAddDeviceSelector = {0x2a, 0x81, 0x97, 0x28};
inline constexpr abi::Selector kRemoveDeviceSelector = {0x1d, 0x26, 0x62, 0x00};
inline constexpr abi::Selector kSetAllowAnyDeviceSelector = {0x7c, 0x4b, 0xee, 0xb8};
inline constexpr abi::Selector kTransferOwnershipSelector = {0xf2, 0xfd, 0xe3, 0x8b};
inline constexpr abi::Selector kAcceptOwnershipSelector = {0x79, 0xba, 0x50, 0x97};
inline constexpr abi::Selector kDisableUpgradesSelector = {0xec, 0x66, 0x90, 0x36};

// One call each, with its typed arguments.
struct AddDevice {
  Hash32 device_id;
  friend bool operator==(const AddDevice&, const AddDevice&) = default;
};
struct RemoveDevice {
  Hash32 device_id;
  friend bool operator==(const RemoveDevice&, const RemoveDevice&) = default;
};
struct SetAllowAnyDevice {
  bool allow_any = false;
  friend bool operator==(const SetAllowAnyDevice&, const SetAllowAnyDevice&) = default;
};
// One-step contracts (before 2026-05) hand ownership over at once (OwnershipTransferred);
// two-step ones only stage it as pendingOwner (OwnershipTransferStarted) until acceptOwnership.
struct TransferOwnership {
  Address new_owner;
  friend bool operator==(const TransferOwnership&, const TransferOwnership&) = default;
};
struct AcceptOwnership {
  friend bool operator==(const AcceptOwnership&, const AcceptOwnership&) = default;
};
struct DisableUpgrades {
  friend bool operator==(const DisableUpgrades&, const DisableUpgrades&) = default;
};
using AppCall =
    std::variant<AddDevice, RemoveDevice, SetAllowAnyDevice, TransferOwnership, AcceptOwnership, DisableUpgrades>;

// Calldata: 36 bytes with an argument, 4 without.
Bytes EncodeAppCall(const AppCall& call);
// Strict inverse: a known selector, the exact length, canonical bool and address words.
absl::StatusOr<AppCall> DecodeAppCall(ByteView calldata);

// The canonical signature, e.g. "addDevice(bytes32)".
absl::string_view AppCallSignature(const AppCall& call);
// One readable line for audit records and errors, e.g. "addDevice(0x11…11)" (full hex),
// "transferOwnership(0x7099…79C8)" (full EIP-55), "acceptOwnership()".
std::string DescribeAppCall(const AppCall& call);
// addDevice, removeDevice, setAllowAnyDevice (the others change who governs the app, or freeze it).
bool IsDeviceCall(const AppCall& call);

}  // namespace chain

#endif  // ONCHAIN_KMS_CHAIN_DSTACK_APP_CALLS_H_
