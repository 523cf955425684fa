#include "platform/postgres/dsn.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/testing/secret_files.h"

namespace platform::postgres {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

std::string WriteFile(const std::string& name, const std::string& content, mode_t mode) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", name);
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  EXPECT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fd);
  ::chmod(path.c_str(), mode);
  return path;
}

TEST(DsnTest, KeyValueStringIsDescribedWithoutThePassword) {
  absl::StatusOr<Dsn> dsn =
      Dsn::Parse(" host=db.internal port=5433 dbname=journal user=orch password=s3cr3t-pw sslmode=verify-full\n", "f");
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  EXPECT_EQ(dsn->description(), "host=db.internal port=5433 dbname=journal user=orch");
  EXPECT_THAT(dsn->options(), ::testing::Contains(Pair("password", "s3cr3t-pw")));
  EXPECT_THAT(dsn->options(), ::testing::Contains(Pair("sslmode", "verify-full")));
  EXPECT_EQ(dsn->Redact("failed for s3cr3t-pw and s3cr3t-pw"), "failed for <redacted> and <redacted>");
}

TEST(DsnTest, UriIsParsedToo) {
  absl::StatusOr<Dsn> dsn = Dsn::Parse("postgresql://signer:pa%20ss@10.0.0.5:6543/record?connect_timeout=3", "f");
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  EXPECT_EQ(dsn->description(), "host=10.0.0.5 port=6543 dbname=record user=signer");
  EXPECT_THAT(dsn->options(), ::testing::Contains(Pair("password", "pa ss")));
  EXPECT_EQ(dsn->Redact("x pa ss y"), "x <redacted> y");
}

TEST(DsnTest, BadStringNamesTheSourceButNotTheText) {
  absl::StatusOr<Dsn> dsn = Dsn::Parse("host=a password=hunter2secret oops", "DSN file /etc/x.dsn");
  EXPECT_EQ(dsn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dsn.status().message(), HasSubstr("DSN file /etc/x.dsn"));
  EXPECT_THAT(dsn.status().message(), Not(HasSubstr("hunter2")));
  EXPECT_THAT(dsn.status().message(), Not(HasSubstr("oops")));
  EXPECT_EQ(Dsn::Parse("postgresql://u:hunter2@[::1", "f").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Dsn::Parse(" \n", "f").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Dsn::Parse("nokey=1", "f").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DsnTest, FileMustBeOwnerOnly) {
  const std::string text = "host=/tmp dbname=d user=u password=filepw123";
  absl::StatusOr<Dsn> ok = Dsn::FromFile(WriteFile("ok.dsn", text, 0600));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->description(), "host=/tmp dbname=d user=u");
  const std::string open = WriteFile("open.dsn", text, 0644);
  absl::StatusOr<Dsn> refused = Dsn::FromFile(open);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("chmod 600 " + open));
  EXPECT_THAT(refused.status().message(), Not(HasSubstr("filepw123")));
  EXPECT_EQ(Dsn::FromFile(open + ".missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Dsn::FromFile(::testing::TempDir()).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Dsn::FromFile(WriteFile("big.dsn", std::string(5000, 'x'), 0600)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DsnTest, KubeletSecretVolumeWithFsGroup) {
  const platform::testing::KubeletSecretDir dir(
      {{"journal.dsn", "host=/tmp dbname=d user=u password=mountedpw", 0, 10000, 0440},
       {"writable.dsn", "host=/tmp dbname=d user=u password=mountedpw", 0, 10000, 0460}},
      10000);
  const absl::Status read = platform::testing::RunAsUser(10002, 10000, [&]() -> absl::Status {
    absl::StatusOr<Dsn> dsn = Dsn::FromFile(dir.file("journal.dsn"));
    if (!dsn.ok()) return dsn.status();
    return dsn->description() == "host=/tmp dbname=d user=u" ? absl::OkStatus() : absl::DataLossError("wrong dsn");
  });
  EXPECT_TRUE(read.ok()) << read;
  const absl::Status writable =
      platform::testing::RunAsUser(10002, 10000, [&] { return Dsn::FromFile(dir.file("writable.dsn")).status(); });
  EXPECT_EQ(writable.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(writable.message(), HasSubstr("DSN file " + dir.file("writable.dsn") + ": owned by root and mode 0460"));
  EXPECT_THAT(writable.message(), Not(HasSubstr("mountedpw")));
}

}  // namespace
}  // namespace platform::postgres
