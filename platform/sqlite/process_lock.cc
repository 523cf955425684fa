#include "platform/sqlite/process_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace platform::sqlite {
namespace {

// The pid the holder wrote, or "" if unreadable (it may be between lock and write).
std::string HolderPid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return "";
  return std::string(absl::StripAsciiWhitespace(absl::string_view(buf, static_cast<size_t>(n))));
}

void WritePid(int fd) {
  const std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(fd, 0) == 0) {
    // Informational only: a failure leaves the lock itself intact.
    (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  }
}

}  // namespace

absl::StatusOr<ProcessLock> ProcessLock::Acquire(const std::string& database_path) {
  std::string lock_path = absl::StrCat(database_path, ".lock");
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat("cannot open ", lock_path, ": ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = HolderPid(fd);
    ::close(fd);
    if (err != EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat("cannot lock ", lock_path, ": ", std::strerror(err)));
    }
    return absl::FailedPreconditionError(absl::StrCat("database ", database_path, " is in use by another process (",
                                                      lock_path, " is locked",
                                                      holder.empty() ? "" : absl::StrCat(" by pid ", holder), ")"));
  }
  WritePid(fd);
  return ProcessLock(std::move(lock_path), fd);
}

ProcessLock::ProcessLock(ProcessLock&& other) noexcept
    : lock_path_(std::move(other.lock_path_)), fd_(std::exchange(other.fd_, -1)) {}

ProcessLock& ProcessLock::operator=(ProcessLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    lock_path_ = std::move(other.lock_path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

ProcessLock::~ProcessLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace platform::sqlite
