#include "crypto/aes_ctr.h"

#include <gtest/gtest.h>

#include "crypto/test_hex.h"

namespace crypto {
namespace {

using testing::FromHex;
using testing::ToHex;

// NIST SP 800-38A, F.5.1 CTR-AES128.Encrypt.
TEST(Aes128Ctr, Sp80038aF51) {
  const Bytes key = FromHex("2b7e151628aed2a6abf7158809cf4f3c");
  const Bytes iv = FromHex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  const Bytes pt = FromHex(
      "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
      "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");
  Bytes ct(pt.size());
  ASSERT_TRUE(Aes128Ctr(key, iv, pt, absl::MakeSpan(ct)).ok());
  EXPECT_EQ(ToHex(ct),
            "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
            "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee");
  Bytes back(ct.size());
  ASSERT_TRUE(Aes128Ctr(key, iv, ct, absl::MakeSpan(back)).ok());
  EXPECT_EQ(back, pt);
}

// Web3 Secret Storage PBKDF2 vector: cipher key = DK[0..15].
TEST(Aes128Ctr, KeystoreVector) {
  Bytes out(32);
  ASSERT_TRUE(Aes128Ctr(FromHex("f06d69cdc7da0faffb1008270bca38f5"), FromHex("6087dab2f9fdbbfaddc31a909735c1e6"),
                        FromHex("5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46"),
                        absl::MakeSpan(out))
                  .ok());
  EXPECT_EQ(ToHex(out), "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d");
}

TEST(Aes128Ctr, RejectsBadSizes) {
  Bytes out(4);
  EXPECT_FALSE(Aes128Ctr(Bytes(32), Bytes(16), Bytes(4), absl::MakeSpan(out)).ok());
  EXPECT_FALSE(Aes128Ctr(Bytes(16), Bytes(12), Bytes(4), absl::MakeSpan(out)).ok());
  EXPECT_FALSE(Aes128Ctr(Bytes(16), Bytes(16), Bytes(5), absl::MakeSpan(out)).ok());
  EXPECT_TRUE(Aes128Ctr(Bytes(16), Bytes(16), Bytes(), absl::Span<uint8_t>()).ok());
}

}  // namespace
}  // namespace crypto
