#include "platform/testing/secret_files.h"

#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace platform::testing {
namespace {

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "secret_files: %s: %s\n", what.c_str(), std::strerror(errno));
    std::abort();
  }
}

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

KubeletSecretDir::KubeletSecretDir(const std::vector<SecretFileSpec>& files, gid_t dir_gid) {
  char tmpl[] = "/tmp/okms-secret-XXXXXX";
  Check(::mkdtemp(tmpl) != nullptr, "mkdtemp");
  path_ = tmpl;
  const std::string version = "..2026_12_03_10_00_00.000000001";
  const std::string data = path_ + "/" + version;
  Check(::mkdir(data.c_str(), 0755) == 0, "mkdir " + data);
  for (const std::string& dir : {path_, data}) {
    Check(::chown(dir.c_str(), 0, dir_gid) == 0 && ::chmod(dir.c_str(), 0755) == 0, "chown/chmod " + dir);
  }
  for (const SecretFileSpec& f : files) {
    const std::string p = data + "/" + f.name;
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    Check(fd >= 0, "create " + p);
    WriteAll(fd, f.content);
    ::close(fd);
    // chown before chmod: chown clears set-id bits, and the mode is what the test asked for.
    Check(::chown(p.c_str(), f.uid, f.gid) == 0 && ::chmod(p.c_str(), f.mode) == 0, "chown/chmod " + p);
  }
  Check(::symlink(version.c_str(), (path_ + "/..data").c_str()) == 0, "symlink ..data");
  for (const SecretFileSpec& f : files) {
    Check(::symlink(("..data/" + f.name).c_str(), (path_ + "/" + f.name).c_str()) == 0, "symlink " + f.name);
  }
}

KubeletSecretDir::~KubeletSecretDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

absl::Status RunAsUser(uid_t uid, gid_t gid, const std::function<absl::Status()>& fn) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe");
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork");
  if (pid == 0) {
    ::close(fds[0]);
    if (::setgroups(1, &gid) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(3);
    const absl::Status s = fn();
    WriteAll(fds[1], absl::StrCat(static_cast<int>(s.code()), " ", s.message()));
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || out.empty()) {
    return absl::InternalError(absl::StrCat("child as uid ", uid, " failed (wait status ", wstatus, ")"));
  }
  const size_t space = out.find(' ');
  const int code = std::atoi(out.substr(0, space).c_str());
  return absl::Status(static_cast<absl::StatusCode>(code), out.substr(space + 1));
}

}  // namespace platform::testing
