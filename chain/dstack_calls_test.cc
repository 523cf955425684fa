#include "chain/dstack_calls.h"

#include <gtest/gtest.h>

#include "chain/hex.h"

namespace chain {
namespace {

Hash32 H32(char c) { return *Hash32::FromHex(std::string(64, c)); }
const Address kOwner = *Address::Parse("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
constexpr char kOwnerWord[] = "000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266";
const std::string kZero(64, '0');
const std::string kOne = std::string(63, '0') + "1";

TEST(DstackCalls, SelectorsAreKeccakOfSignatures) {
  EXPECT_EQ(abi::FunctionSelector(kDeployAndRegisterApp5Signature), kDeployAndRegisterApp5Selector);
  EXPECT_EQ(abi::FunctionSelector(kDeployAndRegisterApp6Signature), kDeployAndRegisterApp6Selector);
  EXPECT_EQ(abi::FunctionSelector(kAddComposeHashSignature), kAddComposeHashSelector);
  // The facts' values, independently.
  EXPECT_EQ(abi::SelectorHex(kDeployAndRegisterApp5Selector), "0x8618169d");
  EXPECT_EQ(abi::SelectorHex(kDeployAndRegisterApp6Selector), "0x9cb9c31f");
  EXPECT_EQ(abi::SelectorHex(kAddComposeHashSelector), "0xdfc77223");
}

TEST(DstackCalls, EventTopicsMatchFacts) {
  EXPECT_EQ(AppDeployedViaFactoryTopic().Hex(), "0xfd86d7f6962eba3b7a3bf9129c06c0b2f885e1c61ef2c9f0dbb856be0deefdee");
  EXPECT_EQ(AppRegisteredTopic().Hex(), "0x0d540ad8f39e07d19909687352b9fa017405d93c91a6760981fbae9cf28bfef7");
  EXPECT_EQ(ComposeHashAddedTopic().Hex(), "0xfecb34306dd9d8b785b54d65489d06afc8822a0893ddacedff40c50a4942d0af");
}

// facts §9: deployAndRegisterApp(0xf39F…2266, false, false, 0xdd…dd, 0x11…11), 164 bytes.
TEST(DstackCalls, DeployFiveArgsFactsVector) {
  DeployAndRegisterAppParams p;
  p.initial_owner = kOwner;
  p.initial_device_id = H32('d');
  p.initial_compose_hash = H32('1');
  const Bytes data = EncodeDeployAndRegisterApp(p);
  ASSERT_EQ(data.size(), 164u);
  EXPECT_EQ(ToHex(data),
            "0x8618169d" + std::string(kOwnerWord) + kZero + kZero + std::string(64, 'd') + std::string(64, '1'));
  EXPECT_EQ(*DecodeDeployAndRegisterApp(data), p);
}

// facts §9: 6-arg (owner, false, false, true, 0x0, 0x11…11), 196 bytes.
TEST(DstackCalls, DeploySixArgsFactsVector) {
  DeployAndRegisterAppParams p;
  p.initial_owner = kOwner;
  p.require_tcb_up_to_date = false;
  p.allow_any_device = true;
  p.initial_compose_hash = H32('1');
  const Bytes data = EncodeDeployAndRegisterApp(p);
  ASSERT_EQ(data.size(), 196u);
  EXPECT_EQ(ToHex(data), "0x9cb9c31f" + std::string(kOwnerWord) + kZero + kZero + kOne + kZero + std::string(64, '1'));
  EXPECT_EQ(*DecodeDeployAndRegisterApp(data), p);
  // Argument order: requireTcbUpToDate is the third argument.
  p.require_tcb_up_to_date = true;
  p.allow_any_device = false;
  EXPECT_EQ(ToHex(EncodeDeployAndRegisterApp(p)),
            "0x9cb9c31f" + std::string(kOwnerWord) + kZero + kOne + kZero + kZero + std::string(64, '1'));
}

TEST(DstackCalls, AddComposeHashFactsVector) {
  const Bytes data = EncodeAddComposeHash(H32('1'));
  EXPECT_EQ(ToHex(data), "0xdfc77223" + std::string(64, '1'));
  EXPECT_EQ(*DecodeAddComposeHash(data), H32('1'));
}

TEST(DstackCalls, DecodersAreStrict) {
  DeployAndRegisterAppParams p;
  p.initial_owner = kOwner;
  Bytes data = EncodeDeployAndRegisterApp(p);
  Bytes longer = data;
  longer.push_back(0);
  EXPECT_EQ(DecodeDeployAndRegisterApp(longer).status().message(),
            "deployAndRegisterApp: want 164 bytes of calldata, got 165");
  EXPECT_EQ(DecodeDeployAndRegisterApp(ByteView(data).subspan(0, 100)).status().message(),
            "deployAndRegisterApp: want 164 bytes of calldata, got 100");
  EXPECT_EQ(DecodeDeployAndRegisterApp(EncodeAddComposeHash(Hash32())).status().message(),
            "deployAndRegisterApp: calldata has another selector");
  EXPECT_EQ(DecodeDeployAndRegisterApp(Bytes{0x86}).status().message(),
            "deployAndRegisterApp: calldata has another selector");
  Bytes dirty_bool = data;
  dirty_bool[4 + 32 + 31] = 2;
  EXPECT_EQ(DecodeDeployAndRegisterApp(dirty_bool).status().message(),
            "deployAndRegisterApp: abi: bool at byte 32 is not 0 or 1");
  Bytes dirty_addr = data;
  dirty_addr[4] = 1;
  EXPECT_EQ(DecodeDeployAndRegisterApp(dirty_addr).status().message(),
            "deployAndRegisterApp: abi: address at byte 0 has non-zero upper bytes");
  EXPECT_EQ(DecodeAddComposeHash(data).status().message(), "addComposeHash: calldata has another selector");
  Bytes add = EncodeAddComposeHash(Hash32());
  add.pop_back();
  EXPECT_EQ(DecodeAddComposeHash(add).status().message(), "addComposeHash: want 36 bytes of calldata, got 35");
}

}  // namespace
}  // namespace chain
