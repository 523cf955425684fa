#include "platform/config_file.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onchainkms/signer/v1/config.pb.h"
#include "platform/testing/server_process.h"

namespace platform {
namespace {

using ::onchainkms::signer::v1::SignerConfig;
using ::testing::HasSubstr;

std::string Write(const testing::ShortTempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(LoadConfigFileTest, TextProto) {
  testing::ShortTempDir dir;
  constexpr char kText[] = R"(# comment
    listen { unix { path: "/run/s.sock" mode: "0660" group: "okms" } }
    keystore_dir: "/keys"
    password { env_var: "SIGNER_PASSWORD" }
  )";
  SignerConfig config;
  ASSERT_TRUE(LoadConfigFile(Write(dir, "s.textproto", kText), &config).ok());
  EXPECT_EQ(config.listen().unix().path(), "/run/s.sock");
  EXPECT_EQ(config.listen().unix().mode(), "0660");
  EXPECT_EQ(config.password().env_var(), "SIGNER_PASSWORD");
}

TEST(LoadConfigFileTest, Json) {
  testing::ShortTempDir dir;
  constexpr char kJson[] =
      R"({"listen": {"tcp": {"address": "[::1]:7443", "insecureLoopback": true}}, "metrics_port": 9102})";
  SignerConfig config;
  ASSERT_TRUE(LoadConfigFile(Write(dir, "s.json", kJson), &config).ok());
  EXPECT_EQ(config.listen().tcp().address(), "[::1]:7443");
  EXPECT_TRUE(config.listen().tcp().insecure_loopback());
  EXPECT_EQ(config.metrics_port(), 9102u);
}

TEST(LoadConfigFileTest, UnknownFieldIsAnErrorWithItsPosition) {
  testing::ShortTempDir dir;
  SignerConfig config;
  absl::Status s = LoadConfigFile(Write(dir, "s.textproto", "keystore_dir: \"/k\"\nkeystore_dri: \"/k\"\n"), &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("s.textproto:2:"));
  EXPECT_THAT(s.message(), HasSubstr("keystore_dri"));
  s = LoadConfigFile(Write(dir, "s.json", R"({"keystoreDri": "/k"})"), &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST(LoadConfigFileTest, MissingFile) {
  SignerConfig config;
  EXPECT_EQ(LoadConfigFile("/nonexistent/x.textproto", &config).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace platform
