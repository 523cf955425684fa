// Events of a DstackApp contract and strict decoders of their logs (topic0 = keccak256 of the
// signature; layouts: ../shared/facts/dstack-contracts.md §2.2 and §3.2). A decoder checks the
// topic0, the number of topics and the data length; that the log came from the right contract
// is the caller's check (the log's address).
#ifndef ONCHAIN_KMS_CHAIN_DSTACK_APP_EVENTS_H_
#define ONCHAIN_KMS_CHAIN_DSTACK_APP_EVENTS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/dstack_app_calls.h"
#include "chain/hash32.h"

namespace chain {

// Not indexed: the value is the log's data. (ComposeHashAdded: chain/dstack_calls.h.)
inline constexpr char kDeviceAddedEvent[] = "DeviceAdded(bytes32)";
inline constexpr char kDeviceRemovedEvent[] = "DeviceRemoved(bytes32)";
inline constexpr char kAllowAnyDeviceSetEvent[] = "AllowAnyDeviceSet(bool)";
inline constexpr char kUpgradesDisabledEvent[] = "UpgradesDisabled()";
// OpenZeppelin, both addresses indexed (topics 1 and 2), no data.
inline constexpr char kOwnershipTransferredEvent[] = "OwnershipTransferred(address,address)";
inline constexpr char kOwnershipTransferStartedEvent[] = "OwnershipTransferStarted(address,address)";
const Hash32& DeviceAddedTopic();
const Hash32& DeviceRemovedTopic();
const Hash32& AllowAnyDeviceSetTopic();
const Hash32& UpgradesDisabledTopic();
const Hash32& OwnershipTransferredTopic();
const Hash32& OwnershipTransferStartedTopic();

// OwnershipTransferred / OwnershipTransferStarted.
struct OwnershipChange {
  Address previous_owner;
  Address new_owner;
  friend bool operator==(const OwnershipChange&, const OwnershipChange&) = default;
};

absl::StatusOr<Hash32> DecodeComposeHashAddedLog(absl::Span<const Hash32> topics, ByteView data);
absl::StatusOr<Hash32> DecodeDeviceAddedLog(absl::Span<const Hash32> topics, ByteView data);
absl::StatusOr<Hash32> DecodeDeviceRemovedLog(absl::Span<const Hash32> topics, ByteView data);
absl::StatusOr<bool> DecodeAllowAnyDeviceSetLog(absl::Span<const Hash32> topics, ByteView data);
absl::Status DecodeUpgradesDisabledLog(absl::Span<const Hash32> topics, ByteView data);
absl::StatusOr<OwnershipChange> DecodeOwnershipTransferredLog(absl::Span<const Hash32> topics, ByteView data);
absl::StatusOr<OwnershipChange> DecodeOwnershipTransferStartedLog(absl::Span<const Hash32> topics, ByteView data);

// True if the log is the event a successful `call` emits, with the call's argument:
//   addDevice(id) -> DeviceAdded(id); removeDevice(id) -> DeviceRemoved(id);
//   setAllowAnyDevice(b) -> AllowAnyDeviceSet(b); disableUpgrades() -> UpgradesDisabled();
//   transferOwnership(x) -> OwnershipTransferStarted(*, x) on two-step contracts, or
//     OwnershipTransferred(*, x) on one-step ones (either matches);
//   acceptOwnership() -> OwnershipTransferred(*, *) (the new owner is the transaction's sender).
// For a watcher that must see the call land when someone else (the owner) sends it.
bool IsAppCallEvent(const AppCall& call, absl::Span<const Hash32> topics, ByteView data);

}  // namespace chain

#endif  // ONCHAIN_KMS_CHAIN_DSTACK_APP_EVENTS_H_
