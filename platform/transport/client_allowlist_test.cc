#include "platform/transport/client_allowlist.h"

#include "gtest/gtest.h"

namespace platform {
namespace {

TEST(ClientAllowlistTest, FingerprintsAreNormalized) {
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += i == 0 ? "AB" : ":AB";
  absl::StatusOr<ClientAllowlist> list = ClientAllowlist::Create({colons}, {});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_FALSE(list->empty());
  std::string lower;
  for (int i = 0; i < 32; ++i) lower += "ab";
  EXPECT_TRUE(list->AllowsFingerprint(lower));
  EXPECT_FALSE(list->AllowsFingerprint(std::string(64, 'c')));
  EXPECT_FALSE(list->AllowsFingerprint(""));
}

TEST(ClientAllowlistTest, BadFingerprintsAreRefused) {
  for (const std::string& bad : {std::string(63, 'a'), std::string(64, 'g'), std::string("")}) {
    EXPECT_EQ(ClientAllowlist::Create({bad}, {}).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ClientAllowlistTest, NamesMatchExactlyAndTheFirstWins) {
  absl::StatusOr<ClientAllowlist> list = ClientAllowlist::Create({}, {"ci-client", "localhost"});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->AllowedName({"nobody", "localhost", "ci-client"}), "localhost");
  EXPECT_EQ(list->AllowedName({"CI-CLIENT"}), std::nullopt);
  EXPECT_EQ(list->AllowedName({}), std::nullopt);
  EXPECT_TRUE(ClientAllowlist().empty());
}

}  // namespace
}  // namespace platform
