#include "crypto/x25519.h"

#include <gtest/gtest.h>

#include "crypto/test_hex.h"

namespace crypto {
namespace {

using testing::FromHex;
using testing::ToHex;

X25519PublicKey Pub(absl::string_view hex) {
  Bytes b = FromHex(hex);
  X25519PublicKey out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

// RFC 7748 §6.1.
constexpr absl::string_view kAlicePriv = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
constexpr absl::string_view kAlicePub = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
constexpr absl::string_view kBobPriv = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
constexpr absl::string_view kBobPub = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
constexpr absl::string_view kShared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

TEST(X25519, Rfc7748AliceAndBob) {
  absl::StatusOr<X25519PrivateKey> alice = X25519PrivateKey::FromBytes(FromHex(kAlicePriv));
  absl::StatusOr<X25519PrivateKey> bob = X25519PrivateKey::FromBytes(FromHex(kBobPriv));
  ASSERT_TRUE(alice.ok() && bob.ok());
  absl::StatusOr<X25519PublicKey> alice_pub = alice->PublicKey();
  absl::StatusOr<X25519PublicKey> bob_pub = bob->PublicKey();
  ASSERT_TRUE(alice_pub.ok() && bob_pub.ok());
  EXPECT_EQ(ToHex(*alice_pub), kAlicePub);
  EXPECT_EQ(ToHex(*bob_pub), kBobPub);

  absl::StatusOr<SecretBytes> k1 = X25519SharedSecret(*alice, Pub(kBobPub));
  absl::StatusOr<SecretBytes> k2 = X25519SharedSecret(*bob, Pub(kAlicePub));
  ASSERT_TRUE(k1.ok()) << k1.status();
  ASSERT_TRUE(k2.ok()) << k2.status();
  EXPECT_EQ(ToHex(k1->view()), kShared);
  EXPECT_EQ(ToHex(k2->view()), kShared);
}

// facts/phala-cloud-api.md §6: any 32 bytes are a private key (clamped inside the ladder).
TEST(X25519, UnclampedScalarsLikeNoble) {
  absl::StatusOr<X25519PrivateKey> k = X25519PrivateKey::FromBytes(Bytes(32, 0x01));
  ASSERT_TRUE(k.ok());
  absl::StatusOr<X25519PublicKey> pub = k->PublicKey();
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(ToHex(*pub), "a4e09292b651c278b9772c569f5fa9bb13d906b46ab68c9df9dc2b4409f8a209");
  absl::StatusOr<X25519PrivateKey> eph = X25519PrivateKey::FromBytes(Bytes(32, 0x02));
  ASSERT_TRUE(eph.ok());
  absl::StatusOr<SecretBytes> shared = X25519SharedSecret(*eph, *pub);
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(ToHex(shared->view()), "2ed76ab549b1e73c031eb49c9448f0798aea81b698279a0c3dc3e49fbfc4b953");
}

TEST(X25519, GeneratedPairsAgree) {
  absl::StatusOr<X25519KeyPair> a = GenerateX25519KeyPair();
  absl::StatusOr<X25519KeyPair> b = GenerateX25519KeyPair();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->public_key, b->public_key);
  absl::StatusOr<X25519PublicKey> again = a->private_key.PublicKey();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, a->public_key);
  absl::StatusOr<SecretBytes> k1 = X25519SharedSecret(a->private_key, b->public_key);
  absl::StatusOr<SecretBytes> k2 = X25519SharedSecret(b->private_key, a->public_key);
  ASSERT_TRUE(k1.ok() && k2.ok());
  EXPECT_EQ(ToHex(k1->view()), ToHex(k2->view()));
}

TEST(X25519, RejectsSmallOrderPeers) {
  absl::StatusOr<X25519PrivateKey> alice = X25519PrivateKey::FromBytes(FromHex(kAlicePriv));
  ASSERT_TRUE(alice.ok());
  // u = 0, u = 1 and the order-8 point from the curve25519 "bad points" list.
  for (absl::string_view u : {"0000000000000000000000000000000000000000000000000000000000000000",
                              "0100000000000000000000000000000000000000000000000000000000000000",
                              "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"}) {
    absl::StatusOr<SecretBytes> k = X25519SharedSecret(*alice, Pub(u));
    ASSERT_FALSE(k.ok()) << u;
    EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(X25519, RejectsBadPrivateKeyLength) {
  EXPECT_EQ(X25519PrivateKey::FromBytes(Bytes(31)).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crypto
