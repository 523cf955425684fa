#include "cloudapi/api_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "platform/testing/secret_files.h"

namespace cloudapi {
namespace {

std::string TempFile(const std::string& name, const std::string& content, mode_t mode) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(dir ? dir : "/tmp", "/", name);
  std::ofstream(path, std::ios::trunc) << content;
  chmod(path.c_str(), mode);
  return path;
}

TEST(ApiKey, FromStringValidates) {
  absl::StatusOr<ApiKey> k = ApiKey::FromString("phak_abc-123");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->value(), "phak_abc-123");
  EXPECT_EQ(k->Clone().value(), "phak_abc-123");
  EXPECT_EQ(ApiKey::FromString("").status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status bad = ApiKey::FromString("secret\r\nX-Evil: 1").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message(), "api key: character 7 is not visible ASCII (whitespace or control)");
  EXPECT_FALSE(ApiKey::FromString(std::string(5000, 'a')).ok());
  EXPECT_TRUE(ApiKey().empty());
}

TEST(ApiKey, FileMustBePrivate) {
  const std::string ok = TempFile("key_ok", "phak_filekey\n", 0600);
  absl::StatusOr<ApiKey> k = ApiKey::FromFile(ok);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->value(), "phak_filekey");
  EXPECT_TRUE(ApiKey::FromFile(TempFile("key_ro", "phak_ro", 0400)).ok());

  const std::string open = TempFile("key_open", "phak_filekey\n", 0644);
  absl::Status s = ApiKey::FromFile(open).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(s.message(), "mode 0644")) << s;
  EXPECT_FALSE(absl::StrContains(s.message(), "phak_filekey"));
  EXPECT_EQ(ApiKey::FromFile(TempFile("key_group", "k", 0640)).status().code(), absl::StatusCode::kFailedPrecondition);

  EXPECT_EQ(ApiKey::FromFile("/nonexistent/key").status().code(), absl::StatusCode::kNotFound);
  const char* dir = std::getenv("TEST_TMPDIR");
  EXPECT_EQ(ApiKey::FromFile(dir ? dir : "/tmp").status().code(), absl::StatusCode::kFailedPrecondition);
  absl::Status empty = ApiKey::FromFile(TempFile("key_empty", "\n", 0600)).status();
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  absl::Status inner = ApiKey::FromFile(TempFile("key_space", "two words\n", 0600)).status();
  EXPECT_FALSE(absl::StrContains(inner.message(), "words"));
}

// A Kubernetes Secret volume with fsGroup: root:10000 0440 behind `key -> ..data/key`, read by
// the orchestrator's uid in group 10000.
TEST(ApiKey, KubeletSecretVolumeWithFsGroup) {
  const platform::testing::KubeletSecretDir dir(
      {{"phala-cloud-api-key", "phak_mounted\n", 0, 10000, 0440}, {"open", "phak_open", 0, 10000, 0444}}, 10000);
  const absl::Status read = platform::testing::RunAsUser(10002, 10000, [&]() -> absl::Status {
    absl::StatusOr<ApiKey> k = ApiKey::FromFile(dir.file("phala-cloud-api-key"));
    if (!k.ok()) return k.status();
    return k->value() == "phak_mounted" ? absl::OkStatus() : absl::DataLossError("wrong key");
  });
  EXPECT_TRUE(read.ok()) << read;
  const absl::Status open =
      platform::testing::RunAsUser(10002, 10000, [&] { return ApiKey::FromFile(dir.file("open")).status(); });
  EXPECT_EQ(open.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(open.message(), "owned by root and mode 0444")) << open;
  EXPECT_FALSE(absl::StrContains(open.message(), "phak_open"));
}

TEST(ApiKey, Environment) {
  unsetenv("PHALA_CLOUD_API_KEY_FILE");
  unsetenv("PHALA_CLOUD_API_KEY");
  EXPECT_EQ(ApiKey::FromEnvironment().status().code(), absl::StatusCode::kFailedPrecondition);
  setenv("PHALA_CLOUD_API_KEY", "phak_env", 1);
  char* raw = std::getenv("PHALA_CLOUD_API_KEY");
  EXPECT_EQ(ApiKey::FromEnvironment()->value(), "phak_env");
  EXPECT_EQ(std::getenv("PHALA_CLOUD_API_KEY"), nullptr) << "read once, then dropped";
  EXPECT_EQ(raw[0], '\0') << "the environment's copy was overwritten";
  setenv("PHALA_CLOUD_API_KEY_FILE", TempFile("key_env", "phak_from_file", 0600).c_str(), 1);
  EXPECT_EQ(ApiKey::FromEnvironment()->value(), "phak_from_file");
  unsetenv("PHALA_CLOUD_API_KEY_FILE");
  unsetenv("PHALA_CLOUD_API_KEY");
}

}  // namespace
}  // namespace cloudapi
