// The simulator's thin crypto layer against the vectors of ../shared/facts/phala-cloud-api.md
// (§6 env encryption, §7 env-pubkey signature).
#include <gtest/gtest.h>

#include <string>

#include "test/cloudsim/eth_forms.h"
#include "test/cloudsim/sim_crypto.h"

namespace cloudsim {
namespace {

TEST(Hex, AddressHelpers) {
  EXPECT_EQ(ChecksumAddress("f39fd6e51aad88f6f4ce6ab8827279cfffb92266"), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  EXPECT_EQ(*NormalizeAddress("0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
            "f39fd6e51aad88f6f4ce6ab8827279cfffb92266");
  EXPECT_FALSE(NormalizeAddress("0x1234").has_value());
  EXPECT_EQ(*NormalizeBytes32("0x" + std::string(64, 'A')), std::string(64, 'a'));
  EXPECT_TRUE(IsHexOfSize("0xA0ff", 2));
  EXPECT_FALSE(IsHexOfSize("abc", 1));
  EXPECT_FALSE(IsHexOfSize("zz", 1));
  EXPECT_EQ(Keccak256Hex(Bytes{}), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
}

TEST(EnvCrypto, FactsVectorDecrypts) {
  const std::string kCipher =
      "ce8d3ad1ccb633ec7b70c17814a5c76ecd029685050d344745ba05870e587d59030303030303030303030303e747"
      "c37bc9c6a278cbbf3e38e2360db7ceb3662594671e7369791483b08ba889665501167db2e5606762d56445a7383e"
      "4d8a73431b10c1b7977ebf1f5893e6c3536bb62b01c61754c7e723a91423a384db5bea4fe7";
  std::string priv;
  for (int i = 0; i < 32; ++i) priv += "01";
  absl::StatusOr<std::vector<cloudapi::EnvVar>> vars = DecryptEnv(priv, kCipher);
  ASSERT_TRUE(vars.ok()) << vars.status();
  ASSERT_EQ(vars->size(), 2u);
  EXPECT_EQ((*vars)[0].key, "FOO");
  EXPECT_EQ((*vars)[0].value, "bar");
  EXPECT_EQ((*vars)[1].value, "a=b \"q\"");
  EXPECT_FALSE(DecryptEnv(std::string(64, '5'), kCipher).ok());
  EXPECT_FALSE(DecryptEnv(priv, "00").ok());
}

TEST(KmsSigner, FactsVectorRecoversAndRoundTrips) {
  EXPECT_EQ(
      *RecoverEnvPubkeySigner(std::string(40, '0'), "e33a1832c6562067ff8f844a61e51ad051f1180b66ec2551fb0251735f3ee90a",
                              "8542c49081fbf4e03f62034f13fbf70630bdf256a53032e38465a27c36fd6bed7a5e7111652004aef37f7fd9"
                              "2fbfc1285212c4ae6a6154203a48f5e16cad2cef00"),
      "0x0217610d74cbd39b6143842c6d8bc310d79da1d82cc9d17f8876376221eda0c38f");
  KmsSigner signer = KmsSigner::Generate();
  auto [priv, pub] = NewAppKeyPair();
  const std::string app = "0xa16e02e87b7454126e5e10d957a927a7f5b5d2be";
  absl::StatusOr<std::string> sig = signer.SignEnvPubkey(app, pub);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->size(), 130u);
  EXPECT_TRUE(sig->substr(128) == "00" || sig->substr(128) == "01");
  EXPECT_EQ(*RecoverEnvPubkeySigner(app, pub, *sig), signer.CompressedPublicKeyHex());
  absl::StatusOr<KmsSigner> anvil0 =
      KmsSigner::FromSecretHex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
  ASSERT_TRUE(anvil0.ok());
  EXPECT_EQ(anvil0->Address(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  EXPECT_FALSE(KmsSigner::FromSecretHex(std::string(64, '0')).ok());
}

TEST(Random, UuidShape) {
  std::string u = RandomUuid4();
  ASSERT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '4');
  EXPECT_NE(RandomHex(16), RandomHex(16));
}

}  // namespace
}  // namespace cloudsim
