#include "cloudapi/env_pubkey_signature.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "cloudapi/hex.h"

namespace cloudapi {
namespace {

// The @phala/dstack-sdk doc-comment vector (facts §7).
constexpr absl::string_view kPubkey = "e33a1832c6562067ff8f844a61e51ad051f1180b66ec2551fb0251735f3ee90a";
constexpr absl::string_view kSignature =
    "8542c49081fbf4e03f62034f13fbf70630bdf256a53032e38465a27c36fd6bed7a5e7111652004aef37f7fd92fbfc1"
    "285212c4ae6a6154203a48f5e16cad2cef00";

TEST(EnvPubkeySignature, MessageLayout) {
  crypto::X25519PublicKey pub{};
  crypto::Bytes raw = *HexDecode(kPubkey, "pub");
  std::copy(raw.begin(), raw.end(), pub.begin());
  absl::StatusOr<crypto::Bytes> msg =
      EnvEncryptPubkeySignedMessage("0x0000000000000000000000000000000000000000", pub);
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_EQ(HexEncode(*msg), absl::StrCat("64737461636b2d656e762d656e63727970742d7075626b65793a",
                                          std::string(40, '0'), kPubkey));
  EXPECT_FALSE(EnvEncryptPubkeySignedMessage("00", pub).ok());
}

TEST(EnvPubkeySignature, ParsesRecoverableSignature) {
  absl::StatusOr<EnvPubkeySignature> sig = ParseEnvPubkeySignature(kSignature);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(sig->recovery_id, 0);
  EXPECT_EQ(sig->rs[0], 0x85);
  std::string v27(kSignature.substr(0, 128));
  v27 += "1b";
  EXPECT_EQ(ParseEnvPubkeySignature(v27).status().message(),
            "kms signature: recovery id must be 0 or 1, got 27");
  EXPECT_FALSE(ParseEnvPubkeySignature(kSignature.substr(2)).ok());
}

}  // namespace
}  // namespace cloudapi
