// The one rule for files that hold secrets (keystore files and their password, the Phala Cloud
// API key, a PostgreSQL DSN), checked on the opened descriptor (fstat: no race with a rename; a
// symlink is followed to the file it names, which is what is checked — Kubernetes mounts each
// Secret key as `key -> ..data/key`). A regular file is accepted when either
//  (a) it is owned by this process's effective user and neither group nor others have any
//      access (0600, 0400), or
//  (b) it is owned by root (and this process is not root), its group is one of this process's
//      groups, the group may at most read it and others have no access (0440, 0640): a
//      Kubernetes Secret volume with `fsGroup` and `defaultMode: 0440`. PostgreSQL accepts
//      root-owned private keys the same way (src/backend/libpq/be-secure-common.c,
//      check_ssl_key_file_permissions: "u=rw (0600) or less if owned by the database user, or
//      u=rw,g=r (0640) or less if owned by root"); we also require the group to be ours.
// Anything else is FAILED_PRECONDITION naming the file, its owner, group and mode, and the rule.
#ifndef ONCHAIN_KMS_PLATFORM_SECRET_FILE_PERMISSIONS_H_
#define ONCHAIN_KMS_PLATFORM_SECRET_FILE_PERMISSIONS_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace platform {

// Who reads the file: the effective uid and every group the process is in (egid + getgroups).
struct SecretFileReader {
  uid_t euid = 0;
  std::vector<gid_t> groups;

  static SecretFileReader OfThisProcess();
  bool InGroup(gid_t gid) const;
};

// The rule above for `st`. `what` names the file in messages ("DSN file /run/secrets/pg.dsn");
// `path` is the path itself (for the chmod hint).
absl::Status CheckSecretFileStat(const struct stat& st, const SecretFileReader& reader, absl::string_view what,
                                 absl::string_view path);

// fstat(fd), then the rule for this process. Fills `st` (for the size) when given.
absl::Status CheckSecretFile(int fd, absl::string_view what, absl::string_view path, struct stat* st = nullptr);

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_SECRET_FILE_PERMISSIONS_H_
