#include "cloudapi/env_pubkey_signature.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "chain/hash32.h"
#include "chain/hex.h"
#include "chain/keccak.h"
#include "chain/secp256k1.h"
#include "chain/u256.h"

namespace cloudapi {
namespace {

// The @phala/dstack-sdk doc-comment vector (facts §7).
constexpr absl::string_view kPubkey = "e33a1832c6562067ff8f844a61e51ad051f1180b66ec2551fb0251735f3ee90a";
constexpr absl::string_view kSignature =
    "8542c49081fbf4e03f62034f13fbf70630bdf256a53032e38465a27c36fd6bed7a5e7111652004aef37f7fd92fbfc1"
    "285212c4ae6a6154203a48f5e16cad2cef00";

TEST(EnvPubkeySignature, MessageLayout) {
  crypto::X25519PublicKey pub{};
  crypto::Bytes raw = *chain::FromHex(kPubkey);
  std::copy(raw.begin(), raw.end(), pub.begin());
  absl::StatusOr<crypto::Bytes> msg = EnvEncryptPubkeySignedMessage("0x0000000000000000000000000000000000000000", pub);
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_EQ(chain::ToHex(*msg, false),
            absl::StrCat("64737461636b2d656e762d656e63727970742d7075626b65793a", std::string(40, '0'), kPubkey));
  EXPECT_FALSE(EnvEncryptPubkeySignedMessage("00", pub).ok());
}

TEST(EnvPubkeySignature, ParsesRecoverableSignature) {
  absl::StatusOr<EnvPubkeySignature> sig = ParseEnvPubkeySignature(kSignature);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(sig->recovery_id, 0);
  EXPECT_EQ(sig->rs[0], 0x85);
  std::string v27(kSignature.substr(0, 128));
  v27 += "1b";
  EXPECT_EQ(ParseEnvPubkeySignature(v27).status().message(), "kms signature: recovery id must be 0 or 1, got 27");
  EXPECT_FALSE(ParseEnvPubkeySignature(kSignature.substr(2)).ok());
}

crypto::X25519PublicKey Pub() {
  crypto::X25519PublicKey pub{};
  crypto::Bytes raw = *chain::FromHex(kPubkey);
  std::copy(raw.begin(), raw.end(), pub.begin());
  return pub;
}

TEST(EnvPubkeySignature, RecoversTheSdkVector) {
  const std::string app_id = "0x" + std::string(40, '0');
  absl::StatusOr<crypto::Bytes> msg = EnvEncryptPubkeySignedMessage(app_id, Pub());
  ASSERT_TRUE(msg.ok());
  EXPECT_EQ(chain::Keccak256(chain::ByteView(*msg)).Hex(),
            "0x0c3ffb367db2f1350a6d0e3d6e186280e455705556c5978f552020ced51a4f41");
  absl::StatusOr<std::array<uint8_t, 33>> signer =
      RecoverEnvEncryptPubkeySigner(app_id, Pub(), *ParseEnvPubkeySignature(kSignature));
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ(chain::ToHex(*signer), "0x0217610d74cbd39b6143842c6d8bc310d79da1d82cc9d17f8876376221eda0c38f");
  EXPECT_TRUE(VerifyEnvEncryptPubkey(app_id, Pub(), *ParseEnvPubkeySignature(kSignature), *signer).ok());

  // Another app id: another (wrong) signer, refused.
  const std::string other = std::string(39, '0') + "1";
  absl::Status wrong = VerifyEnvEncryptPubkey(other, Pub(), *ParseEnvPubkeySignature(kSignature), *signer);
  EXPECT_EQ(wrong.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(wrong.message().find("not by the trusted kms key 0x0217610d"), absl::string_view::npos);
  EXPECT_EQ(
      VerifyEnvEncryptPubkey(app_id, Pub(), *ParseEnvPubkeySignature(kSignature), crypto::ByteView(signer->data(), 32))
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(EnvPubkeySignature, HighSRecoversTheSameKeyLikeNoble) {
  const std::string app_id(40, '0');
  EnvPubkeySignature sig = *ParseEnvPubkeySignature(kSignature);
  std::array<uint8_t, 32> s{};
  std::copy_n(sig.rs.begin() + 32, 32, s.begin());
  const chain::U256 n = chain::U256::FromLimbs(0xBFD25E8CD0364141ULL, 0xBAAEDCE6AF48A03BULL, 0xFFFFFFFFFFFFFFFEULL,
                                               0xFFFFFFFFFFFFFFFFULL);
  std::array<uint8_t, 32> high = (*chain::U256::CheckedSub(n, chain::U256::FromBytes32(s))).ToBytes32();
  EnvPubkeySignature twin = sig;
  std::copy(high.begin(), high.end(), twin.rs.begin() + 32);
  twin.recovery_id ^= 1;
  EXPECT_EQ(*RecoverEnvEncryptPubkeySigner(app_id, Pub(), twin), *RecoverEnvEncryptPubkeySigner(app_id, Pub(), sig));
}

TEST(EnvPubkeySignature, SignedWithAKnownKey) {
  const std::vector<uint8_t> secret(32, 0x42);
  const std::string app_id = "0x" + std::string(38, 'a') + "bc";
  absl::StatusOr<crypto::Bytes> msg = EnvEncryptPubkeySignedMessage(app_id, Pub());
  absl::StatusOr<chain::RecoverableSignature> rs = chain::SignHash(secret, chain::Keccak256(chain::ByteView(*msg)));
  ASSERT_TRUE(rs.ok());
  std::array<uint8_t, 65> raw = rs->ToBytes();
  absl::StatusOr<EnvPubkeySignature> sig = ParseEnvPubkeySignature(chain::ToHex(raw));
  ASSERT_TRUE(sig.ok());
  std::array<uint8_t, 65> pub = *chain::PublicKeyFromSecret(secret);
  std::array<uint8_t, 33> compressed{};
  compressed[0] = static_cast<uint8_t>(0x02 | (pub[64] & 1));
  std::copy_n(pub.begin() + 1, 32, compressed.begin() + 1);
  EXPECT_EQ(*RecoverEnvEncryptPubkeySigner(app_id, Pub(), *sig), compressed);
}

}  // namespace
}  // namespace cloudapi
