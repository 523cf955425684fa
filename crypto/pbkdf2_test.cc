#include "crypto/pbkdf2.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto/test_hex.h"

namespace crypto {
namespace {

using testing::FromHex;
using testing::ToHex;

Bytes Text(const std::string& s) { return Bytes(s.begin(), s.end()); }

// RFC 7914 §11 (PBKDF2-HMAC-SHA256 test vectors).
TEST(Pbkdf2HmacSha256, Rfc7914) {
  Bytes out(64);
  ASSERT_TRUE(Pbkdf2HmacSha256(Text("passwd"), Text("salt"), 1, absl::MakeSpan(out)).ok());
  EXPECT_EQ(ToHex(out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
            "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
}

// Web3 Secret Storage PBKDF2 vector (c = 262144), derived key from the spec.
TEST(Pbkdf2HmacSha256, KeystoreVector) {
  Bytes out(32);
  ASSERT_TRUE(Pbkdf2HmacSha256(Text("testpassword"),
                               FromHex("ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"), 262144,
                               absl::MakeSpan(out))
                  .ok());
  EXPECT_EQ(ToHex(out), "f06d69cdc7da0faffb1008270bca38f5e31891a3a773950e6d0fea48a7188551");
}

TEST(Pbkdf2HmacSha256, RejectsZeroIterationsAndEmptyOutput) {
  Bytes out(32);
  EXPECT_FALSE(Pbkdf2HmacSha256(Text("p"), Text("s"), 0, absl::MakeSpan(out)).ok());
  EXPECT_FALSE(Pbkdf2HmacSha256(Text("p"), Text("s"), 1, absl::Span<uint8_t>()).ok());
  EXPECT_TRUE(Pbkdf2HmacSha256(Bytes(), Text("s"), 1, absl::MakeSpan(out)).ok());
}

}  // namespace
}  // namespace crypto
