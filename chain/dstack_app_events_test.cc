#include "chain/dstack_app_events.h"

#include <gtest/gtest.h>

#include "chain/dstack_calls.h"
#include "chain/hex.h"

namespace chain {
namespace {

Hash32 H32(char c) { return *Hash32::FromHex(std::string(64, c)); }
const Address kA = *Address::Parse("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
const Address kB = *Address::Parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
Hash32 AddressWord(const Address& a) {
  Hash32 h;
  std::copy(a.bytes().begin(), a.bytes().end(), h.data() + 12);
  return h;
}
Bytes BoolWord(bool b) {
  Bytes w(32, 0);
  w[31] = b ? 1 : 0;
  return w;
}

TEST(DstackAppEvents, TopicsMatchFacts) {
  EXPECT_EQ(DeviceAddedTopic().Hex(), "0x67fc71ab96fe3fa3c6f78e9a00e635d591b7333ce611c0380bc577aac702243b");
  EXPECT_EQ(DeviceRemovedTopic().Hex(), "0xe0862975ac517b0478d308012afabc4bc37c23874a18144d7f2dfb852ff95c2c");
  EXPECT_EQ(AllowAnyDeviceSetTopic().Hex(), "0xbb2cdb6c7b362202d40373f87bc4788301cca658f91711ac1662e1ad2cba4a20");
  EXPECT_EQ(UpgradesDisabledTopic().Hex(), "0x0e5daa943fcd7e7182d0e893d180695c2ea9f6f1b4a1c5432faf14cf17b774e8");
  EXPECT_EQ(OwnershipTransferredTopic().Hex(), "0x8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e0");
  EXPECT_EQ(OwnershipTransferStartedTopic().Hex(),
            "0x38d16b8cac22d99fc7c124b9cd0de2d3fa1faef420bfe791d8c362d765e22700");
}

TEST(DstackAppEvents, DecodersReadTheirLayout) {
  const Hash32 id = H32('d');
  EXPECT_EQ(*DecodeDeviceAddedLog({DeviceAddedTopic()}, id.bytes()), id);
  EXPECT_EQ(*DecodeDeviceRemovedLog({DeviceRemovedTopic()}, id.bytes()), id);
  EXPECT_EQ(*DecodeComposeHashAddedLog({ComposeHashAddedTopic()}, id.bytes()), id);
  EXPECT_EQ(*DecodeAllowAnyDeviceSetLog({AllowAnyDeviceSetTopic()}, BoolWord(true)), true);
  EXPECT_EQ(*DecodeAllowAnyDeviceSetLog({AllowAnyDeviceSetTopic()}, BoolWord(false)), false);
  EXPECT_TRUE(DecodeUpgradesDisabledLog({UpgradesDisabledTopic()}, {}).ok());
  EXPECT_EQ(*DecodeOwnershipTransferredLog({OwnershipTransferredTopic(), AddressWord(kA), AddressWord(kB)}, {}),
            (OwnershipChange{kA, kB}));
  EXPECT_EQ(*DecodeOwnershipTransferStartedLog({OwnershipTransferStartedTopic(), AddressWord(kB), AddressWord(kA)}, {}),
            (OwnershipChange{kB, kA}));
}

TEST(DstackAppEvents, DecodersAreStrict) {
  const Hash32 id = H32('d');
  EXPECT_EQ(DecodeDeviceAddedLog({DeviceRemovedTopic()}, id.bytes()).status().message(),
            "DeviceAdded(bytes32): log has another topic0");
  EXPECT_EQ(DecodeDeviceAddedLog({}, id.bytes()).status().message(), "DeviceAdded(bytes32): log has another topic0");
  EXPECT_EQ(DecodeDeviceAddedLog({DeviceAddedTopic(), id}, id.bytes()).status().message(),
            "DeviceAdded(bytes32): want 1 topics, got 2");
  EXPECT_EQ(DecodeDeviceAddedLog({DeviceAddedTopic()}, id.bytes().subspan(1)).status().message(),
            "DeviceAdded(bytes32): want 32 bytes of data, got 31");
  Bytes two = BoolWord(true);
  two[31] = 2;
  EXPECT_EQ(DecodeAllowAnyDeviceSetLog({AllowAnyDeviceSetTopic()}, two).status().message(),
            "AllowAnyDeviceSet(bool): data is not 0 or 1");
  EXPECT_EQ(DecodeUpgradesDisabledLog({UpgradesDisabledTopic()}, BoolWord(true)).message(),
            "UpgradesDisabled(): want 0 bytes of data, got 32");
  Hash32 dirty = AddressWord(kB);
  dirty.data()[0] = 1;
  EXPECT_EQ(DecodeOwnershipTransferredLog({OwnershipTransferredTopic(), AddressWord(kA), dirty}, {}).status().message(),
            "OwnershipTransferred(address,address): topic 2 is not an address (upper 12 bytes non-zero)");
  EXPECT_EQ(DecodeOwnershipTransferredLog({OwnershipTransferredTopic(), AddressWord(kA)}, {}).status().message(),
            "OwnershipTransferred(address,address): want 3 topics, got 2");
}

TEST(DstackAppEvents, IsAppCallEventMatchesTheCallsArgument) {
  const Hash32 id = H32('d');
  EXPECT_TRUE(IsAppCallEvent(AddDevice{id}, {DeviceAddedTopic()}, id.bytes()));
  EXPECT_FALSE(IsAppCallEvent(AddDevice{H32('e')}, {DeviceAddedTopic()}, id.bytes()));
  EXPECT_FALSE(IsAppCallEvent(AddDevice{id}, {DeviceRemovedTopic()}, id.bytes()));
  EXPECT_TRUE(IsAppCallEvent(RemoveDevice{id}, {DeviceRemovedTopic()}, id.bytes()));
  EXPECT_TRUE(IsAppCallEvent(SetAllowAnyDevice{true}, {AllowAnyDeviceSetTopic()}, BoolWord(true)));
  EXPECT_FALSE(IsAppCallEvent(SetAllowAnyDevice{false}, {AllowAnyDeviceSetTopic()}, BoolWord(true)));
  EXPECT_TRUE(IsAppCallEvent(DisableUpgrades{}, {UpgradesDisabledTopic()}, {}));
  // transferOwnership: either contract generation's event, naming the new owner.
  const std::vector<Hash32> started = {OwnershipTransferStartedTopic(), AddressWord(kA), AddressWord(kB)};
  const std::vector<Hash32> done = {OwnershipTransferredTopic(), AddressWord(kA), AddressWord(kB)};
  EXPECT_TRUE(IsAppCallEvent(TransferOwnership{kB}, started, {}));
  EXPECT_TRUE(IsAppCallEvent(TransferOwnership{kB}, done, {}));
  EXPECT_FALSE(IsAppCallEvent(TransferOwnership{kA}, started, {}));
  EXPECT_FALSE(IsAppCallEvent(TransferOwnership{kA}, done, {}));
  EXPECT_TRUE(IsAppCallEvent(AcceptOwnership{}, done, {}));
  EXPECT_FALSE(IsAppCallEvent(AcceptOwnership{}, started, {}));
}

}  // namespace
}  // namespace chain
