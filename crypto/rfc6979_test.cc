#include "crypto/rfc6979.h"

#include <secp256k1.h>

#include <string>

#include "crypto/sha256.h"
#include "crypto/test_hex.h"
#include "gtest/gtest.h"

namespace crypto {
namespace {

using testing::FromHex;
using testing::ToHex;

std::string Nonce(const Bytes& secret, const Bytes& digest) {
  uint8_t k[32];
  Secp256k1Rfc6979Nonce(secret, digest, k);
  return ToHex(ByteView(k, 32));
}

std::string LibsecpNonce(const Bytes& secret, const Bytes& digest) {
  uint8_t k[32];
  EXPECT_EQ(secp256k1_nonce_function_rfc6979(k, digest.data(), secret.data(), nullptr, nullptr, 0), 1);
  return ToHex(ByteView(k, 32));
}

Bytes Digest(absl::string_view text) {
  const Sha256Digest d = Sha256(text);
  return Bytes(d.begin(), d.end());
}

// Published secp256k1 + SHA-256 vectors (python-ecdsa's and bitcoinjs' RFC 6979 tests): the
// message's SHA-256 signed with keys 1 and n - 1.
TEST(Secp256k1Rfc6979Nonce, PublishedVectors) {
  const Bytes one = FromHex("0000000000000000000000000000000000000000000000000000000000000001");
  const Bytes n_minus_1 = FromHex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140");
  EXPECT_EQ(Nonce(one, Digest("Satoshi Nakamoto")), "8f8a276c19f4149656b280621e358cce24f5f52542772691ee69063b74f15d15");
  EXPECT_EQ(Nonce(one, Digest("All those moments will be lost in time, like tears in rain. Time to die...")),
            "38aa22d72376b4dbc472e06c3ba403ee0a394da63fc58d88686c611aba98d6b3");
  EXPECT_EQ(Nonce(n_minus_1, Digest("Satoshi Nakamoto")),
            "33a19b60e25fb6f4435af53a3d42d493644827367e6453928554f43e49aa6f90");
}

// The same value as libsecp256k1's nonce function (attempt 0, no extra data) on 2,000 derived
// keys and digests, and on the digests that bits2octets reduces (n, n + 1, 2^256 - 1) or that are
// extreme (0, n - 1).
TEST(Secp256k1Rfc6979Nonce, EqualsLibsecp256k1s) {
  const Bytes anvil = FromHex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
  for (const char* hex : {"0000000000000000000000000000000000000000000000000000000000000000",
                          "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
                          "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
                          "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364142",
                          "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"}) {
    EXPECT_EQ(Nonce(anvil, FromHex(hex)), LibsecpNonce(anvil, FromHex(hex))) << hex;
  }
  for (int i = 0; i < 2000; ++i) {
    Bytes secret = Digest("key " + std::to_string(i));
    if (secret[0] == 0xff) secret[0] = 0x7f;  // keep it below n
    const Bytes digest = Digest("message " + std::to_string(i));
    ASSERT_EQ(Nonce(secret, digest), LibsecpNonce(secret, digest)) << i;
  }
}

}  // namespace
}  // namespace crypto
