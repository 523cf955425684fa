#include "platform/secret_file_permissions.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace platform {
namespace {

constexpr char kRule[] =
    "a secret file must be owned by this process's user with mode 0600 or 0400, or owned by root with "
    "group one of this process's groups and mode 0440 or 0640";

std::string Describe(const struct stat& st) {
  return absl::StrFormat("owner uid %u gid %u, mode %04o", st.st_uid, st.st_gid, st.st_mode & 07777);
}

}  // namespace

SecretFileReader SecretFileReader::OfThisProcess() {
  SecretFileReader reader;
  reader.euid = ::geteuid();
  reader.groups.push_back(::getegid());
  const int n = ::getgroups(0, nullptr);
  if (n > 0) {
    std::vector<gid_t> more(static_cast<size_t>(n));
    const int got = ::getgroups(n, more.data());
    if (got > 0) reader.groups.insert(reader.groups.end(), more.begin(), more.begin() + got);
  }
  return reader;
}

bool SecretFileReader::InGroup(gid_t gid) const { return std::find(groups.begin(), groups.end(), gid) != groups.end(); }

absl::Status CheckSecretFileStat(const struct stat& st, const SecretFileReader& reader, absl::string_view what,
                                 absl::string_view path) {
  if (!S_ISREG(st.st_mode)) return absl::FailedPreconditionError(absl::StrCat(what, ": not a regular file"));
  const mode_t mode = st.st_mode & 07777;
  if (st.st_uid == reader.euid) {
    if ((mode & 077) == 0) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrFormat("%s: mode %04o lets group or others read it (%s); refusing: %s (chmod 600 %s)", what, mode,
                        Describe(st), kRule, path));
  }
  if (st.st_uid != 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s: owned by uid %u, neither this process's user (uid %u) nor root (%s); refusing: %s", what,
                        st.st_uid, reader.euid, Describe(st), kRule));
  }
  if ((mode & (S_IWGRP | S_IXGRP | S_IRWXO)) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: owned by root and mode %04o lets others access it or the group write it (%s); refusing: %s", what, mode,
        Describe(st), kRule));
  }
  if (!reader.InGroup(st.st_gid)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: owned by root with group gid %u, which is not one of this process's groups (%s) (%s); refusing: %s", what,
        st.st_gid, absl::StrJoin(reader.groups, ","), Describe(st), kRule));
  }
  return absl::OkStatus();
}

absl::Status CheckSecretFile(int fd, absl::string_view what, absl::string_view path, struct stat* st) {
  struct stat own {};
  struct stat* target = st != nullptr ? st : &own;
  if (::fstat(fd, target) != 0) {
    return absl::InternalError(absl::StrCat(what, ": fstat: ", std::strerror(errno)));
  }
  return CheckSecretFileStat(*target, SecretFileReader::OfThisProcess(), what, path);
}

}  // namespace platform
