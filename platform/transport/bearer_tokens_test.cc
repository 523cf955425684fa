#include "platform/transport/bearer_tokens.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace platform {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string DigestHex(absl::string_view token) {
  const crypto::Sha256Digest d = crypto::Sha256(token);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

TEST(BearerTokensTest, ParsesNamesCommentsAndBlankLines) {
  absl::StatusOr<BearerTokens> tokens = BearerTokens::Parse(absl::StrCat(
      "# tokens of the CI\n\n  ci ", DigestHex("s3cret"), "  # the runner\nops\t", DigestHex("other"), "\n"));
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->size(), 2u);
  EXPECT_EQ(tokens->NameOf("s3cret"), "ci");
  EXPECT_EQ(tokens->NameOf("other"), "ops");
  EXPECT_EQ(tokens->NameOf("S3cret"), std::nullopt);
  EXPECT_EQ(tokens->NameOf(""), std::nullopt);
}

TEST(BearerTokensTest, MalformedLinesAreNamedWithoutTheirContent) {
  const std::string upper = absl::AsciiStrToUpper(DigestHex("x"));
  for (const std::string& text :
       {absl::StrCat("ok ", DigestHex("a"), "\nci ", upper), absl::StrCat("ok ", DigestHex("a"), "\nci s3cret-token"),
        absl::StrCat("ok ", DigestHex("a"), "\nci ", DigestHex("b"), " extra")}) {
    absl::StatusOr<BearerTokens> tokens = BearerTokens::Parse(text);
    ASSERT_EQ(tokens.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(tokens.status().message(), HasSubstr("line 2"));
    EXPECT_THAT(tokens.status().message(), Not(HasSubstr("s3cret")));
  }
}

TEST(BearerTokensTest, LoadNamesAnUnreadableFile) {
  absl::StatusOr<BearerTokens> tokens = BearerTokens::Load("/nonexistent/tokens");
  EXPECT_EQ(tokens.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tokens.status().message(), HasSubstr("/nonexistent/tokens"));
}

TEST(BearerTokensTest, AuthorizationHeader) {
  EXPECT_EQ(BearerTokens::FromAuthorizationHeader("Bearer abc"), "abc");
  EXPECT_EQ(BearerTokens::FromAuthorizationHeader("bearer abc "), "abc");
  EXPECT_EQ(BearerTokens::FromAuthorizationHeader("Basic abc"), std::nullopt);
  EXPECT_EQ(BearerTokens::FromAuthorizationHeader("Bearerabc"), std::nullopt);
}

}  // namespace
}  // namespace platform
