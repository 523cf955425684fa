#include "platform/secret_file_permissions.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "platform/testing/secret_files.h"

namespace platform {
namespace {

using ::testing::HasSubstr;
using testing::KubeletSecretDir;
using testing::RunAsUser;
using testing::SecretFileSpec;

constexpr uid_t kService = 10001;
constexpr uid_t kOtherService = 10002;
constexpr gid_t kFsGroup = 10000;
constexpr gid_t kOtherGroup = 12345;

struct stat Stat(uid_t uid, gid_t gid, mode_t mode) {
  struct stat st {};
  st.st_uid = uid;
  st.st_gid = gid;
  st.st_mode = S_IFREG | mode;
  return st;
}

absl::Status Check(const struct stat& st) {
  const SecretFileReader service{kService, {kFsGroup, 20}};
  return CheckSecretFileStat(st, service, "key file /s/k", "/s/k");
}

TEST(SecretFilePermissions, OwnFileWithoutGroupOrOtherAccess) {
  EXPECT_TRUE(Check(Stat(kService, kOtherGroup, 0600)).ok());
  EXPECT_TRUE(Check(Stat(kService, kOtherGroup, 0400)).ok());
  for (mode_t mode : {0640, 0604, 0610, 0601, 0660, 0644}) {
    const absl::Status s = Check(Stat(kService, kFsGroup, mode));
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << std::oct << mode;
    EXPECT_THAT(s.message(), HasSubstr("lets group or others read it"));
    EXPECT_THAT(s.message(), HasSubstr("chmod 600 /s/k"));
  }
  EXPECT_THAT(
      Check(Stat(kService, kFsGroup, 0640)).message(),
      HasSubstr("key file /s/k: mode 0640 lets group or others read it (owner uid 10001 gid 10000, mode 0640)"));
}

TEST(SecretFilePermissions, RootOwnedReadableByOneOfOurGroupsOnly) {
  EXPECT_TRUE(Check(Stat(0, kFsGroup, 0440)).ok());
  EXPECT_TRUE(Check(Stat(0, kFsGroup, 0640)).ok());
  EXPECT_TRUE(Check(Stat(0, 20, 0440)).ok()) << "a supplementary group";
  EXPECT_TRUE(Check(Stat(0, kFsGroup, 0400)).ok());
  for (mode_t mode : {0460, 0450, 0444, 0441, 0442, 0664}) {
    const absl::Status s = Check(Stat(0, kFsGroup, mode));
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << std::oct << mode;
    EXPECT_THAT(s.message(), HasSubstr("owned by root and mode"));
  }
  const absl::Status foreign = Check(Stat(0, kOtherGroup, 0440));
  EXPECT_EQ(foreign.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(foreign.message(), HasSubstr("group gid 12345, which is not one of this process's groups (10000,20)"));
}

TEST(SecretFilePermissions, AnotherUsersFileOrNotAFileIsRefused) {
  const absl::Status other = Check(Stat(kOtherService, kFsGroup, 0400));
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.message(), HasSubstr("owned by uid 10002, neither this process's user (uid 10001) nor root"));
  struct stat dir = Stat(kService, kFsGroup, 0700);
  dir.st_mode = S_IFDIR | 0700;
  EXPECT_EQ(Check(dir).message(), "key file /s/k: not a regular file");
}

TEST(SecretFilePermissions, RootProcessKeepsTheStrictRuleForItsOwnFiles) {
  const SecretFileReader root{0, {0, kFsGroup}};
  EXPECT_TRUE(CheckSecretFileStat(Stat(0, kFsGroup, 0600), root, "f", "f").ok());
  EXPECT_FALSE(CheckSecretFileStat(Stat(0, kFsGroup, 0440), root, "f", "f").ok());
  EXPECT_FALSE(CheckSecretFileStat(Stat(0, 0, 0640), root, "f", "f").ok());
}

absl::Status OpenAndCheck(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(path + ": cannot open");
  absl::Status s = CheckSecretFile(fd, path, path);
  ::close(fd);
  return s;
}

// Real files behind the kubelet's symlinks, checked by a process running as the service's user.
TEST(SecretFilePermissions, KubeletSecretVolumeAsTheServiceUser) {
  const KubeletSecretDir dir(
      {
          {"fsgroup-0440", "a", 0, kFsGroup, 0440},
          {"fsgroup-0640", "b", 0, kFsGroup, 0640},
          {"group-writable", "c", 0, kFsGroup, 0460},
          {"world-readable", "d", 0, kFsGroup, 0444},
          {"own-0400", "e", kService, kFsGroup, 0400},
          {"own-0640", "f", kService, kFsGroup, 0640},
          {"sibling-0440", "g", kOtherService, kFsGroup, 0440},
      },
      kFsGroup);
  auto as_service = [&](const std::string& name) {
    return RunAsUser(kService, kFsGroup, [&] { return OpenAndCheck(dir.file(name)); });
  };
  EXPECT_TRUE(as_service("fsgroup-0440").ok()) << as_service("fsgroup-0440");
  EXPECT_TRUE(as_service("fsgroup-0640").ok());
  EXPECT_TRUE(as_service("own-0400").ok());
  EXPECT_THAT(as_service("group-writable").message(), HasSubstr("owned by root and mode 0460"));
  EXPECT_THAT(as_service("world-readable").message(), HasSubstr("owned by root and mode 0444"));
  EXPECT_THAT(as_service("own-0640").message(), HasSubstr("mode 0640 lets group or others read it"));
  EXPECT_THAT(as_service("sibling-0440").message(), HasSubstr("owned by uid 10002"));
  // A process outside the group cannot even open it; the message says which file.
  EXPECT_EQ(RunAsUser(kService, kOtherGroup, [&] { return OpenAndCheck(dir.file("fsgroup-0440")); }).code(),
            absl::StatusCode::kNotFound);
  // The same files read by root: root's own files must be 0600/0400.
  EXPECT_THAT(OpenAndCheck(dir.file("fsgroup-0440")).message(), HasSubstr("lets group or others read it"));
}

}  // namespace
}  // namespace platform
