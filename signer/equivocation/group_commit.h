// Group commit: records queued by many requests are written by one transaction, whatever is
// queued when a commit starts, so 64 concurrent requests share one fsync (SQLite) or one commit
// round trip (PostgreSQL) instead of 64.
//
// Threads: a record enqueued while no commit runs and nothing is queued is written at once on the
// enqueuing thread, which then runs its callback: a lone request (one client, or an orchestrator
// signing one transaction at a time) pays no committer wake-up and no hand-off, only its own
// write. The enqueuing thread is blocked for that one write (one fsync or one PostgreSQL commit):
// for a gRPC callback thread this is the price of replying without two thread wake-ups, which on
// a paravirtualized VM cost more than the fsync. Only one batch is written at a time, so at most
// one request thread waits for a write at any moment (the signer's gRPC callback server polls
// with two threads: the other keeps serving). Records that arrive while any commit runs are
// queued for the committers below; under load the queue is rarely idle, so request threads
// rarely block. A thread that starts several records at once (SignBatch) holds a
// BatchOnThisThread meanwhile, so they share one commit instead of one write each.
//
// Two committer threads take turns (leader/follower). The one whose turn it is takes the queue,
// writes it, runs `after`, hands the turn over, and then runs that batch's callbacks itself: a
// reply leaves from the thread that made its record durable, with no hand-off to a completion
// thread (one wake-up less per batch), while the other committer can already write the records
// that queued up meanwhile. Only one batch is written at a time (by a committer or an enqueuing
// thread): `write` and `after` never run concurrently, and a batch's callbacks run only after its
// `write` and `after` returned. Callbacks of two batches may run at the same time on two threads.
// A committer is woken only when there is a batch for it to write (no busy polling, no wake-up
// per queued record while a commit runs). A record whose sender a refusal stopped (sender_stop.h,
// SignBatch's stop_sender_at_refusal) is not written: its callback gets NotStartedError().
#ifndef ONCHAIN_KMS_SIGNER_EQUIVOCATION_GROUP_COMMIT_H_
#define ONCHAIN_KMS_SIGNER_EQUIVOCATION_GROUP_COMMIT_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
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
  // Runs after every batch (written or not), before its callbacks and before the next batch's
  // write.
  using AfterFn = std::function<void(const std::vector<Pending>& batch)>;

  // Starts the two committers. max_batch bounds one transaction.
  GroupCommit(size_t max_batch, WriteFn write, AfterFn after = nullptr);
  ~GroupCommit();  // Stop()
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Writes what is queued and runs its callbacks (also those of a write on an enqueuing thread),
  // waits for the BatchOnThisThreads holding records for it to end (those records are refused
  // with UNAVAILABLE: nothing of them is written), then stops the committers. Call it before what
  // `write` uses is destroyed, and not from a thread inside a BatchOnThisThread.
  void Stop();
  // Queues the record, or writes it on this thread (see above) and runs `done` before returning;
  // so `done` may run on this thread: call it with no lock held that `done` takes. UNAVAILABLE
  // to `done` at once (on this thread) after Stop.
  void Enqueue(Record record, std::function<void(absl::Status)> done);

  // While one lives, the records this thread enqueues (into any GroupCommit) stay with this
  // thread; when it ends they are queued together and, if no commit runs, written here in one
  // commit. Other threads' records never wait for them. For a caller that starts many records in
  // a row (SignBatch).
  class BatchOnThisThread {
   public:
    BatchOnThisThread();
    ~BatchOnThisThread();
    BatchOnThisThread(const BatchOnThisThread&) = delete;
    BatchOnThisThread& operator=(const BatchOnThisThread&) = delete;
  };

  uint64_t commits() const { return commits_.load(); }
  uint64_t records_written() const { return records_written_.load(); }

 private:
  void CommitterLoop();
  std::vector<Pending> TakeBatch();  // queue_mu_ held
  // Writes `batch` (none: nothing), counts it, runs `after_` and stops the senders of the records
  // it refused (sender_stop.h).
  absl::Status Write(const std::vector<Pending>& batch, std::vector<absl::Status>& results);
  // Writes `batch` but the records of stopped senders (committing_ set by the caller, queue_mu_
  // not held), hands the turn over, then runs the batch's callbacks. An inline writer (an
  // enqueuing thread) counted itself in inline_writers_ and leaves it after the callbacks.
  void CommitAndReply(std::vector<Pending> batch, bool inline_writer);
  // The records a BatchOnThisThread started here: queued together, written here if idle.
  void EnqueueHeld(std::vector<Pending> records);
  // Writes `batch` on this thread as an inline writer (`lock` held on entry, released).
  void WriteHere(std::unique_lock<std::mutex>& lock, std::vector<Pending> batch);

  const size_t max_batch_;
  const WriteFn write_;
  const AfterFn after_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<Pending> queue_;  // guarded by queue_mu_
  bool committing_ = false;     // guarded by queue_mu_: a batch is being written
  bool stopping_ = false;       // guarded by queue_mu_
  int inline_writers_ = 0;      // guarded by queue_mu_: enqueuing threads writing or running callbacks
  int held_batches_ = 0;        // guarded by queue_mu_: BatchOnThisThreads holding records for this one
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> records_written_{0};
  std::vector<std::thread> committers_;
};

}  // namespace signer::equivocation

#endif  // ONCHAIN_KMS_SIGNER_EQUIVOCATION_GROUP_COMMIT_H_
