#include "chain/dstack_app_events.h"

#include "absl/strings/str_cat.h"
#include "chain/dstack_calls.h"
#include "chain/keccak.h"

namespace chain {
namespace {

// The shape every decoder checks first.
absl::Status CheckShape(absl::string_view event, const Hash32& topic0, absl::Span<const Hash32> topics,
                        size_t want_topics, ByteView data, size_t want_data) {
  if (topics.empty() || topics[0] != topic0) {
    return absl::InvalidArgumentError(absl::StrCat(event, ": log has another topic0"));
  }
  if (topics.size() != want_topics) {
    return absl::InvalidArgumentError(absl::StrCat(event, ": want ", want_topics, " topics, got ", topics.size()));
  }
  if (data.size() != want_data) {
    return absl::InvalidArgumentError(absl::StrCat(event, ": want ", want_data, " bytes of data, got ", data.size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Hash32> DecodeBytes32Event(absl::string_view event, const Hash32& topic0,
                                          absl::Span<const Hash32> topics, ByteView data) {
  if (absl::Status s = CheckShape(event, topic0, topics, 1, data, 32); !s.ok()) return s;
  return *Hash32::FromBytes(data);
}

absl::StatusOr<Address> AddressTopic(absl::string_view event, const Hash32& topic, int index) {
  for (size_t i = 0; i < 12; ++i) {
    if (topic.data()[i] != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(event, ": topic ", index, " is not an address (upper 12 bytes non-zero)"));
    }
  }
  return *Address::FromBytes(ByteView(topic.data() + 12, Address::kSize));
}

absl::StatusOr<OwnershipChange> DecodeOwnershipEvent(absl::string_view event, const Hash32& topic0,
                                                     absl::Span<const Hash32> topics, ByteView data) {
  if (absl::Status s = CheckShape(event, topic0, topics, 3, data, 0); !s.ok()) return s;
  absl::StatusOr<Address> previous = AddressTopic(event, topics[1], 1);
  if (!previous.ok()) return previous.status();
  absl::StatusOr<Address> next = AddressTopic(event, topics[2], 2);
  if (!next.ok()) return next.status();
  return OwnershipChange{*previous, *next};
}

}  // namespace

#define ONCHAIN_KMS_EVENT_TOPIC(Name, Signature)                         \
  const Hash32& Name() {                                                 \
    static const Hash32 topic = Keccak256(absl::string_view(Signature)); \
    return topic;                                                        \
  }
ONCHAIN_KMS_EVENT_TOPIC(DeviceAddedTopic, kDeviceAddedEvent)
ONCHAIN_KMS_EVENT_TOPIC(DeviceRemovedTopic, kDeviceRemovedEvent)
ONCHAIN_KMS_EVENT_TOPIC(AllowAnyDeviceSetTopic, kAllowAnyDeviceSetEvent)
ONCHAIN_KMS_EVENT_TOPIC(UpgradesDisabledTopic, kUpgradesDisabledEvent)
ONCHAIN_KMS_EVENT_TOPIC(OwnershipTransferredTopic, kOwnershipTransferredEvent)
ONCHAIN_KMS_EVENT_TOPIC(OwnershipTransferStartedTopic, kOwnershipTransferStartedEvent)
#undef ONCHAIN_KMS_EVENT_TOPIC

absl::StatusOr<Hash32> DecodeComposeHashAddedLog(absl::Span<const Hash32> topics, ByteView data) {
  return DecodeBytes32Event(kComposeHashAddedEvent, ComposeHashAddedTopic(), topics, data);
}

absl::StatusOr<Hash32> DecodeDeviceAddedLog(absl::Span<const Hash32> topics, ByteView data) {
  return DecodeBytes32Event(kDeviceAddedEvent, DeviceAddedTopic(), topics, data);
}

absl::StatusOr<Hash32> DecodeDeviceRemovedLog(absl::Span<const Hash32> topics, ByteView data) {
  return DecodeBytes32Event(kDeviceRemovedEvent, DeviceRemovedTopic(), topics, data);
}

absl::StatusOr<bool> DecodeAllowAnyDeviceSetLog(absl::Span<const Hash32> topics, ByteView data) {
  absl::StatusOr<Hash32> word = DecodeBytes32Event(kAllowAnyDeviceSetEvent, AllowAnyDeviceSetTopic(), topics, data);
  if (!word.ok()) return word.status();
  for (size_t i = 0; i < 31; ++i) {
    if (word->data()[i] != 0) return absl::InvalidArgumentError("AllowAnyDeviceSet(bool): data is not 0 or 1");
  }
  if (word->data()[31] > 1) return absl::InvalidArgumentError("AllowAnyDeviceSet(bool): data is not 0 or 1");
  return word->data()[31] == 1;
}

absl::Status DecodeUpgradesDisabledLog(absl::Span<const Hash32> topics, ByteView data) {
  return CheckShape(kUpgradesDisabledEvent, UpgradesDisabledTopic(), topics, 1, data, 0);
}

absl::StatusOr<OwnershipChange> DecodeOwnershipTransferredLog(absl::Span<const Hash32> topics, ByteView data) {
  return DecodeOwnershipEvent(kOwnershipTransferredEvent, OwnershipTransferredTopic(), topics, data);
}

absl::StatusOr<OwnershipChange> DecodeOwnershipTransferStartedLog(absl::Span<const Hash32> topics, ByteView data) {
  return DecodeOwnershipEvent(kOwnershipTransferStartedEvent, OwnershipTransferStartedTopic(), topics, data);
}

bool IsAppCallEvent(const AppCall& call, absl::Span<const Hash32> topics, ByteView data) {
  if (const auto* c = std::get_if<AddDevice>(&call)) {
    absl::StatusOr<Hash32> id = DecodeDeviceAddedLog(topics, data);
    return id.ok() && *id == c->device_id;
  }
  if (const auto* c = std::get_if<RemoveDevice>(&call)) {
    absl::StatusOr<Hash32> id = DecodeDeviceRemovedLog(topics, data);
    return id.ok() && *id == c->device_id;
  }
  if (const auto* c = std::get_if<SetAllowAnyDevice>(&call)) {
    absl::StatusOr<bool> any = DecodeAllowAnyDeviceSetLog(topics, data);
    return any.ok() && *any == c->allow_any;
  }
  if (const auto* c = std::get_if<TransferOwnership>(&call)) {
    absl::StatusOr<OwnershipChange> started = DecodeOwnershipTransferStartedLog(topics, data);
    if (started.ok()) return started->new_owner == c->new_owner;
    absl::StatusOr<OwnershipChange> done = DecodeOwnershipTransferredLog(topics, data);
    return done.ok() && done->new_owner == c->new_owner;
  }
  if (std::holds_alternative<AcceptOwnership>(call)) return DecodeOwnershipTransferredLog(topics, data).ok();
  return DecodeUpgradesDisabledLog(topics, data).ok();  // DisableUpgrades
}

}  // namespace chain
