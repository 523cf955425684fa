#include "chain/dstack_app_calls.h"

#include <gtest/gtest.h>

#include "chain/hex.h"

namespace chain {
namespace {

Hash32 H32(char c) { return *Hash32::FromHex(std::string(64, c)); }
const Address kOwner = *Address::Parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");

TEST(DstackAppCalls, SelectorsAreKeccakOfSignaturesAndMatchFacts) {
  const std::pair<const char*, abi::Selector> cases[] = {
      {kAddDeviceSignature, kAddDeviceSelector},
      {kRemoveDeviceSignature, kRemoveDeviceSelector},
      {kSetAllowAnyDeviceSignature, kSetAllowAnyDeviceSelector},
      {kTransferOwnershipSignature, kTransferOwnershipSelector},
      {kAcceptOwnershipSignature, kAcceptOwnershipSelector},
      {kDisableUpgradesSignature, kDisableUpgradesSelector},
  };
  for (const auto& [sig, sel] : cases) EXPECT_EQ(abi::FunctionSelector(sig), sel) << sig;
  // The facts' values (dstack-contracts.md §3.1), independently.
  EXPECT_EQ(abi::SelectorHex(kAddDeviceSelector), "0x2a819728");
  EXPECT_EQ(abi::SelectorHex(kRemoveDeviceSelector), "0x1d266200");
  EXPECT_EQ(abi::SelectorHex(kSetAllowAnyDeviceSelector), "0x7c4beeb8");
  EXPECT_EQ(abi::SelectorHex(kTransferOwnershipSelector), "0xf2fde38b");
  EXPECT_EQ(abi::SelectorHex(kAcceptOwnershipSelector), "0x79ba5097");
  EXPECT_EQ(abi::SelectorHex(kDisableUpgradesSelector), "0xec669036");
}

TEST(DstackAppCalls, EncodeDecodeRoundTripWithExactBytes) {
  const std::pair<AppCall, std::string> cases[] = {
      {AddDevice{H32('d')}, "0x2a819728" + std::string(64, 'd')},
      {RemoveDevice{H32('e')}, "0x1d266200" + std::string(64, 'e')},
      {SetAllowAnyDevice{true}, "0x7c4beeb8" + std::string(63, '0') + "1"},
      {SetAllowAnyDevice{false}, "0x7c4beeb8" + std::string(64, '0')},
      {TransferOwnership{kOwner}, "0xf2fde38b" + std::string(24, '0') + "70997970c51812dc3a010c7d01b50e0d17dc79c8"},
      {AcceptOwnership{}, "0x79ba5097"},
      {DisableUpgrades{}, "0xec669036"},
  };
  for (const auto& [call, hex] : cases) {
    const Bytes data = EncodeAppCall(call);
    EXPECT_EQ(ToHex(data), hex) << DescribeAppCall(call);
    absl::StatusOr<AppCall> back = DecodeAppCall(data);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == call) << DescribeAppCall(call);
  }
}

TEST(DstackAppCalls, SignatureDescriptionAndKind) {
  EXPECT_EQ(AppCallSignature(AddDevice{}), "addDevice(bytes32)");
  EXPECT_EQ(AppCallSignature(DisableUpgrades{}), "disableUpgrades()");
  EXPECT_EQ(DescribeAppCall(TransferOwnership{kOwner}),
            "transferOwnership(0x70997970C51812dc3A010C7d01b50e0d17dc79C8)");
  EXPECT_EQ(DescribeAppCall(SetAllowAnyDevice{false}), "setAllowAnyDevice(false)");
  EXPECT_EQ(DescribeAppCall(AddDevice{H32('a')}), "addDevice(0x" + std::string(64, 'a') + ")");
  EXPECT_EQ(DescribeAppCall(AcceptOwnership{}), "acceptOwnership()");
  EXPECT_TRUE(IsDeviceCall(AddDevice{}));
  EXPECT_TRUE(IsDeviceCall(RemoveDevice{}));
  EXPECT_TRUE(IsDeviceCall(SetAllowAnyDevice{}));
  EXPECT_FALSE(IsDeviceCall(TransferOwnership{}));
  EXPECT_FALSE(IsDeviceCall(AcceptOwnership{}));
  EXPECT_FALSE(IsDeviceCall(DisableUpgrades{}));
}

TEST(DstackAppCalls, DecoderIsStrict) {
  Bytes add = EncodeAppCall(AddDevice{H32('1')});
  add.push_back(0);
  EXPECT_EQ(DecodeAppCall(add).status().message(), "addDevice(bytes32): want 36 bytes of calldata, got 37");
  Bytes accept = EncodeAppCall(AcceptOwnership{});
  accept.push_back(0);
  EXPECT_EQ(DecodeAppCall(accept).status().message(), "acceptOwnership(): want 4 bytes of calldata, got 5");
  Bytes any = EncodeAppCall(SetAllowAnyDevice{true});
  any.back() = 2;
  EXPECT_EQ(DecodeAppCall(any).status().message(), "setAllowAnyDevice(bool): abi: bool at byte 0 is not 0 or 1");
  Bytes transfer = EncodeAppCall(TransferOwnership{kOwner});
  transfer[4] = 1;
  EXPECT_EQ(DecodeAppCall(transfer).status().message(),
            "transferOwnership(address): abi: address at byte 0 has non-zero upper bytes");
  EXPECT_EQ(DecodeAppCall(*FromHex("0xdfc77223" + std::string(64, '1'))).status().message(),
            "app call: calldata does not start with a DstackApp governance selector");
  EXPECT_EQ(DecodeAppCall(Bytes{0x2a, 0x81}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chain
