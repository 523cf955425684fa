#include "chain/eip191.h"

#include <gtest/gtest.h>

#include "chain/hex.h"

namespace chain {
namespace {

Bytes H(absl::string_view hex) { return *FromHex(hex); }
Bytes Str(absl::string_view s) { return Bytes(s.begin(), s.end()); }
const Bytes kAnvilKey = H("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
constexpr char kAnvilAddress[] = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

// Expected values from cast 1.7.1: `cast hash-message` and `cast wallet sign --private-key`.
TEST(Eip191, HashMatchesCast) {
  EXPECT_EQ(PersonalMessageHash(Str("hello")).Hex(),
            "0x50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750");
  EXPECT_EQ(PersonalMessageHash(Str("deadbeef")).Hex(),
            "0x5d29b99c3c089bb7b612e0184aa311b1ea9d7ccc6cd0c1f11af2967ab19f80ca");
  // `cast hash-message 0xdeadbeef` hashes the 10 characters as text, while
  // `cast wallet sign 0xdeadbeef` (below) signs the 4 decoded bytes: cast is inconsistent here.
  EXPECT_EQ(PersonalMessageHash(Str("0xdeadbeef")).Hex(),
            "0xefedd0a9a0294228c3977d7fbb68c7d40279f8b408cf3e24ef1823b179709e58");
  // The 4 bytes: `cast keccak` of "\x19Ethereum Signed Message:\n4" || de ad be ef.
  EXPECT_EQ(PersonalMessageHash(H("0xdeadbeef")).Hex(),
            "0xd1c7f1a06a4f9a535077e50ad23244ce2c6ae443fcd412965226f3df5d28eaaa");
}

TEST(Eip191, SignMatchesCastAndRecovers) {
  struct Case {
    Bytes message;
    const char* want;
  } cases[] = {
      {Str("hello"),
       "0xf16ea9a3478698f695fd1401bfe27e9e4a7e8e3da94aa72b021125e31fa899cc573c48ea3fe1d4ab61a9db"
       "10c19032026e3ed2dbccba5a178235ac27f94504311c"},
      {Str(""),
       "0xc1977b761f1dd36c29795783460d241885c8e7f9d962dbe7bba2753fd94e89b444a1cd9ed855dd09afa3b7"
       "3f7c2bd097ec9abc2d2775d737505a02d3f0cafa591b"},
      {H("0xdeadbeef"),
       "0xa114c834af73872c6c9efe918d85b0b1b34a486d10f9011e2630e28417c828c060dbd65cda67e73d52ebb7"
       "c555260621dbc1b0b4036acb61086bba091ac3f1641b"},
  };
  for (const Case& c : cases) {
    auto sig = SignPersonalMessage(kAnvilKey, c.message);
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_EQ(ToHex(*sig), c.want);
    EXPECT_TRUE((*sig)[64] == 27 || (*sig)[64] == 28);
    auto who = RecoverPersonalMessage(c.message, *sig);
    ASSERT_TRUE(who.ok()) << who.status();
    EXPECT_EQ(who->Checksummed(), kAnvilAddress);
    // v as 0/1 is accepted too.
    auto zero_one = *sig;
    zero_one[64] -= 27;
    EXPECT_EQ(RecoverPersonalMessage(c.message, zero_one)->Checksummed(), kAnvilAddress);
  }
}

TEST(Eip191, RecoverErrors) {
  auto sig = *SignPersonalMessage(kAnvilKey, Str("hello"));
  EXPECT_NE(RecoverPersonalMessage(Str("hellO"), sig)->Checksummed(), kAnvilAddress);
  EXPECT_FALSE(RecoverPersonalMessage(Str("hello"), ByteView(sig).subspan(0, 64)).ok());
  auto bad_v = sig;
  bad_v[64] = 30;
  EXPECT_EQ(RecoverPersonalMessage(Str("hello"), bad_v).status().message(),
            "signature: v must be 0, 1, 27 or 28, got 30");
  EXPECT_FALSE(SignPersonalMessage(Bytes(32, 0), Str("x")).ok());
}

}  // namespace
}  // namespace chain
