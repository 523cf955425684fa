// Group commit: records queued by many requests are written by one writer thread, whatever is
// queued in one transaction, so 64 concurrent requests share one fsync (SQLite) or one commit
// round trip (PostgreSQL) instead of 64. Completions run on their own thread so the writer can
// start the next commit while the previous batch's replies are being audited and sent.
#ifndef ONCHAIN_KMS_SIGNER_EQUIVOCATION_GROUP_COMMIT_H_
#define ONCHAIN_KMS_SIGNER_EQUIVOCATION_GROUP_COMMIT_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "signer/equivocation/store.h"

namespace signer::equivocation {

class GroupCommit {
 public:
  struct Pending {
    Record record;
    std::function<void(absl::Status)> done;
  };
  // Writes one batch in one transaction: `results[i]` is record i's outcome if the transaction
  // commits; a non-OK return fails the whole batch with that status.
  using WriteFn = std::function<absl::Status(const std::vector<Pending>& batch, std::vector<absl::Status>& results)>;
  // Runs on the writer thread after every batch (written or not), before its callbacks.
  using AfterFn = std::function<void(const std::vector<Pending>& batch)>;

  // Starts the writer and the completer. max_batch bounds one transaction.
  GroupCommit(size_t max_batch, WriteFn write, AfterFn after = nullptr);
  ~GroupCommit();  // Stop()
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Drains the queue, then stops both threads. Call it before what `write` uses is destroyed.
  void Stop();
  // UNAVAILABLE to `done` at once after Stop.
  void Enqueue(Record record, std::function<void(absl::Status)> done);

  uint64_t commits() const { return commits_.load(); }
  uint64_t records_written() const { return records_written_.load(); }

 private:
  void WriterLoop();
  void CompleterLoop();
  std::vector<Pending> TakeBatch(std::unique_lock<std::mutex>& lock);

  const size_t max_batch_;
  const WriteFn write_;
  const AfterFn after_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<Pending> queue_;  // guarded by queue_mu_
  bool stopping_ = false;       // guarded by queue_mu_
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::vector<std::pair<std::function<void(absl::Status)>, absl::Status>> done_queue_;  // guarded by done_mu_
  bool done_stopping_ = false;                                                          // guarded by done_mu_
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> records_written_{0};
  std::thread writer_;
  std::thread completer_;
};

}  // namespace signer::equivocation

#endif  // ONCHAIN_KMS_SIGNER_EQUIVOCATION_GROUP_COMMIT_H_
