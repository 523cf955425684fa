#include "cloudapi/env_encryption.h"

#include <gtest/gtest.h>

#include <string>

#include "chain/hex.h"
#include "crypto/aes_gcm.h"

namespace cloudapi {
namespace {

crypto::X25519PrivateKey Key(uint8_t fill) { return *crypto::X25519PrivateKey::FromBytes(crypto::Bytes(32, fill)); }

const std::vector<EnvVar> kVars = {{"FOO", "bar"}, {"X", "a=b \"q\""}};

// facts/phala-cloud-api.md §6 deterministic vector.
constexpr absl::string_view kReceiverPub = "a4e09292b651c278b9772c569f5fa9bb13d906b46ab68c9df9dc2b4409f8a209";
constexpr absl::string_view kVector =
    "ce8d3ad1ccb633ec7b70c17814a5c76ecd029685050d344745ba05870e587d59030303030303030303030303e747c3"
    "7bc9c6a278cbbf3e38e2360db7ceb3662594671e7369791483b08ba889665501167db2e5606762d56445a7383e4d8a"
    "73431b10c1b7977ebf1f5893e6c3536bb62b01c61754c7e723a91423a384db5bea4fe7";

TEST(EnvEncryption, PlaintextIsJsonStringifyOfEnv) {
  EXPECT_EQ(*EnvVarsPlaintext(kVars), R"({"env":[{"key":"FOO","value":"bar"},{"key":"X","value":"a=b \"q\""}]})");
  EXPECT_EQ(*EnvVarsPlaintext({}), R"({"env":[]})");
  EXPECT_EQ(*EnvVarsPlaintext({{"U", "\xC3\xA9\n\x01"}}),
            "{\"env\":[{\"key\":\"U\",\"value\":\"\xC3\xA9\\n\\u0001\"}]}");
}

TEST(EnvEncryption, FactsKnownAnswer) {
  absl::StatusOr<crypto::X25519PublicKey> pub = ParseX25519PublicKeyHex(kReceiverPub);
  ASSERT_TRUE(pub.ok());
  absl::StatusOr<std::string> out =
      internal::EncryptEnvVarsDeterministic(kVars, *pub, Key(0x02), crypto::Bytes(12, 0x03));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, kVector);
  EXPECT_EQ(out->size(), 2 * (60 + EnvVarsPlaintext(kVars)->size()));

  absl::StatusOr<std::vector<EnvVar>> back = DecryptEnvVars(kVector, Key(0x01));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, kVars);
}

TEST(EnvEncryption, RoundTripWithRandomEphemeral) {
  absl::StatusOr<crypto::X25519KeyPair> app = crypto::GenerateX25519KeyPair();
  ASSERT_TRUE(app.ok());
  const std::string pub_hex = "0x" + chain::ToHex(app->public_key, false);
  std::vector<EnvVar> vars = {{"A", ""}, {"B", "multi\nline \xF0\x9F\x98\x80"}, {"A", "dup"}};
  absl::StatusOr<std::string> c1 = EncryptEnvVars(vars, pub_hex);
  absl::StatusOr<std::string> c2 = EncryptEnvVars(vars, pub_hex);
  ASSERT_TRUE(c1.ok() && c2.ok());
  EXPECT_NE(*c1, *c2);  // fresh ephemeral key and IV each time
  EXPECT_EQ(c1->find_first_not_of("0123456789abcdef"), std::string::npos);
  absl::StatusOr<std::vector<EnvVar>> back = DecryptEnvVars(*c1, app->private_key);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, vars);
  EXPECT_TRUE(DecryptEnvVars("0x" + *c2, app->private_key).ok());
  EXPECT_TRUE(EncryptEnvVars({}, pub_hex).ok());
}

TEST(EnvEncryption, DecryptFailsCleanly) {
  absl::StatusOr<crypto::X25519KeyPair> other = crypto::GenerateX25519KeyPair();
  ASSERT_TRUE(other.ok());
  absl::StatusOr<std::vector<EnvVar>> wrong_key = DecryptEnvVars(kVector, other->private_key);
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_EQ(wrong_key.status().message(), "encrypted env: aes-gcm: authentication failed");

  std::string tampered(kVector);
  tampered[130] = tampered[130] == '0' ? '1' : '0';
  EXPECT_FALSE(DecryptEnvVars(tampered, Key(0x01)).ok());
  EXPECT_FALSE(DecryptEnvVars(kVector.substr(0, 118), Key(0x01)).ok());
  EXPECT_FALSE(DecryptEnvVars("zz", Key(0x01)).ok());
}

TEST(EnvEncryption, DecryptChecksPlaintextShape) {
  absl::StatusOr<crypto::X25519PublicKey> pub = ParseX25519PublicKeyHex(kReceiverPub);
  ASSERT_TRUE(pub.ok());
  // Encrypt a non-env document through the same layout and check it is refused.
  absl::StatusOr<crypto::SecretBytes> shared = crypto::X25519SharedSecret(Key(0x02), *pub);
  ASSERT_TRUE(shared.ok());
  for (absl::string_view doc :
       {R"({"env":{}})", R"([1])", R"({"env":[{"key":"A"}]})", R"({"env":[{"key":"A","value":1}]})", "not json"}) {
    crypto::Bytes iv(12, 0x09);
    absl::StatusOr<crypto::Bytes> sealed = crypto::AesGcmEncrypt(
        shared->view(), iv, crypto::ByteView(reinterpret_cast<const uint8_t*>(doc.data()), doc.size()));
    ASSERT_TRUE(sealed.ok());
    crypto::Bytes blob(kVector.size() / 2);
    blob = *chain::FromHex(kVector.substr(0, 64));
    blob.insert(blob.end(), iv.begin(), iv.end());
    blob.insert(blob.end(), sealed->begin(), sealed->end());
    absl::StatusOr<std::vector<EnvVar>> got = DecryptEnvVars(chain::ToHex(blob, false), Key(0x01));
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << doc;
  }
}

TEST(EnvEncryption, RejectsBadInputsWithoutEchoingValues) {
  EXPECT_EQ(EncryptEnvVars(kVars, "abcd").status().message(), "env encryption public key: want 64 hex digits, got 4");
  EXPECT_EQ(EncryptEnvVars(kVars, std::string(64, '0')).status().code(),
            absl::StatusCode::kInvalidArgument);  // small-order key
  absl::StatusOr<std::string> bad = EncryptEnvVars({{"K", "secret\xff"}}, std::string(kReceiverPub));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "env var K: value is not valid UTF-8");
}

}  // namespace
}  // namespace cloudapi
