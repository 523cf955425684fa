#include "chain/dstack_app_views.h"

#include <gtest/gtest.h>

#include "chain/hex.h"

namespace chain {
namespace {

TEST(DstackAppViews, SelectorsAreKeccakOfSignaturesAndMatchFacts) {
  const std::tuple<const char*, abi::Selector, const char*> cases[] = {
      {kOwnerSignature, kOwnerSelector, "0x8da5cb5b"},
      {kPendingOwnerSignature, kPendingOwnerSelector, "0xe30c3978"},
      {kAllowAnyDeviceSignature, kAllowAnyDeviceSelector, "0x3440a16a"},
      {kAllowedDeviceIdsSignature, kAllowedDeviceIdsSelector, "0xbf8b211b"},
      {kAllowedComposeHashesSignature, kAllowedComposeHashesSelector, "0x2f6622e5"},
      {kRequireTcbUpToDateSignature, kRequireTcbUpToDateSelector, "0x0aa58c83"},
      {kVersionSignature, kVersionSelector, "0x54fd4d50"},
  };
  for (const auto& [sig, sel, hex] : cases) {
    EXPECT_EQ(abi::FunctionSelector(sig), sel) << sig;
    EXPECT_EQ(abi::SelectorHex(sel), hex) << sig;
  }
}

TEST(DstackAppViews, CalldataBytes) {
  const Hash32 h = *Hash32::FromHex(std::string(64, 'c'));
  EXPECT_EQ(ToHex(EncodeOwnerView()), "0x8da5cb5b");
  EXPECT_EQ(ToHex(EncodePendingOwnerView()), "0xe30c3978");
  EXPECT_EQ(ToHex(EncodeAllowAnyDeviceView()), "0x3440a16a");
  EXPECT_EQ(ToHex(EncodeAllowedDeviceIdsView(h)), "0xbf8b211b" + std::string(64, 'c'));
  EXPECT_EQ(ToHex(EncodeAllowedComposeHashesView(h)), "0x2f6622e5" + std::string(64, 'c'));
  EXPECT_EQ(ToHex(EncodeRequireTcbUpToDateView()), "0x0aa58c83");
  EXPECT_EQ(ToHex(EncodeVersionView()), "0x54fd4d50");
}

TEST(DstackAppViews, ResultDecoders) {
  const Bytes owner = *FromHex("0x00000000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c8");
  EXPECT_EQ(DecodeAddressResult("owner()", owner)->Checksummed(), "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
  Bytes word(32, 0);
  EXPECT_EQ(*DecodeBoolResult("allowAnyDevice()", word), false);
  word[31] = 1;
  EXPECT_EQ(*DecodeBoolResult("allowAnyDevice()", word), true);
  word[31] = 2;
  EXPECT_EQ(*DecodeUint256Result("version()", word), U256(2));
  EXPECT_EQ(DecodeBoolResult("allowAnyDevice()", word).status().message(),
            "allowAnyDevice(): abi: bool at byte 0 is not 0 or 1");
  // An eth_call to an address without code returns nothing.
  EXPECT_EQ(DecodeAddressResult("owner()", Bytes{}).status().message(), "owner(): want 32 bytes of return data, got 0");
  Bytes longer = owner;
  longer.push_back(0);
  EXPECT_EQ(DecodeAddressResult("pendingOwner()", longer).status().message(),
            "pendingOwner(): want 32 bytes of return data, got 33");
  Bytes dirty = owner;
  dirty[0] = 1;
  EXPECT_EQ(DecodeAddressResult("owner()", dirty).status().message(),
            "owner(): abi: address at byte 0 has non-zero upper bytes");
}

}  // namespace
}  // namespace chain
