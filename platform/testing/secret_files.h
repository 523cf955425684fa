// Test support for platform/secret_file_permissions.h: secret files laid out as a kubelet lays
// out a Secret volume, and a child process running as another user (tests run as root).
#ifndef ONCHAIN_KMS_PLATFORM_TESTING_SECRET_FILES_H_
#define ONCHAIN_KMS_PLATFORM_TESTING_SECRET_FILES_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace platform::testing {

struct SecretFileSpec {
  std::string name;
  std::string content;
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0440;
};

// A fresh directory under /tmp (traversable by any user; the test's own TEST_TMPDIR is under
// root's 0700 home) holding `files` as the kubelet writes a Secret volume: the files in
// `..2026_12_03_10_00_00.000000001/`, `..data -> ..2026_...`, and `<name> -> ..data/<name>`.
// The directories are root:`dir_gid` 0755. Removed with its content on destruction.
class KubeletSecretDir {
 public:
  KubeletSecretDir(const std::vector<SecretFileSpec>& files, gid_t dir_gid = 0);
  ~KubeletSecretDir();
  KubeletSecretDir(const KubeletSecretDir&) = delete;
  KubeletSecretDir& operator=(const KubeletSecretDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Runs `fn` in a forked child as `uid`, with group `gid` and no other groups, and returns the
// status it returned (code and message). The child only calls `fn` and exits; INTERNAL if it
// could not switch users or died.
absl::Status RunAsUser(uid_t uid, gid_t gid, const std::function<absl::Status()>& fn);

}  // namespace platform::testing

#endif  // ONCHAIN_KMS_PLATFORM_TESTING_SECRET_FILES_H_
