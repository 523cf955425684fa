// One process at a time per database: an exclusive flock on "<db>.lock". Two services resuming
// the same journal, or signing from the same anti-equivocation record, would repeat effects or
// sign twice; SQLite's own locks only serialize transactions, they do not keep a second process
// out. flock is per open file description, so a second Acquire in the same process is refused
// too, and the kernel drops the lock when the holder dies (kill -9 included).
#ifndef ONCHAIN_KMS_PLATFORM_SQLITE_PROCESS_LOCK_H_
#define ONCHAIN_KMS_PLATFORM_SQLITE_PROCESS_LOCK_H_

#include <string>

#include "absl/status/statusor.h"

namespace platform::sqlite {

class ProcessLock {
 public:
  // Locks "<database_path>.lock" (created 0600), and writes our pid into it for the message a
  // refused process prints. FAILED_PRECONDITION naming the database if another holder has it.
  static absl::StatusOr<ProcessLock> Acquire(const std::string& database_path);

  ProcessLock(ProcessLock&& other) noexcept;
  ProcessLock& operator=(ProcessLock&& other) noexcept;
  ProcessLock(const ProcessLock&) = delete;
  ProcessLock& operator=(const ProcessLock&) = delete;
  ~ProcessLock();  // releases the lock (the file stays)

  const std::string& lock_path() const { return lock_path_; }

 private:
  ProcessLock(std::string lock_path, int fd) : lock_path_(std::move(lock_path)), fd_(fd) {}
  std::string lock_path_;
  int fd_ = -1;
};

}  // namespace platform::sqlite

#endif  // ONCHAIN_KMS_PLATFORM_SQLITE_PROCESS_LOCK_H_
