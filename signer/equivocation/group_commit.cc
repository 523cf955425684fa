#include "signer/equivocation/group_commit.h"

#include <algorithm>
#include <iterator>
#include <memory>
#include <utility>

#include "platform/defer_scope.h"

namespace signer::equivocation {

namespace {
constexpr int kCommitters = 2;  // one writes while the other runs the previous batch's callbacks

absl::Status ShuttingDown() { return absl::UnavailableError("anti-equivocation db: shutting down"); }

// This thread's BatchOnThisThread: how deep, and the records it started, per group commit. They
// stay with the thread (not in the shared queue) so that nobody else's records wait for them.
using HeldRecords = std::vector<std::pair<GroupCommit*, std::vector<GroupCommit::Pending>>>;
thread_local int batch_depth = 0;
thread_local HeldRecords* batch_held = nullptr;
}  // namespace

GroupCommit::BatchOnThisThread::BatchOnThisThread() {
  if (batch_depth++ == 0) batch_held = new HeldRecords();
}

GroupCommit::BatchOnThisThread::~BatchOnThisThread() {
  if (--batch_depth != 0) return;
  std::unique_ptr<HeldRecords> held(batch_held);
  batch_held = nullptr;
  for (auto& [gc, records] : *held) gc->EnqueueHeld(std::move(records));
}

void GroupCommit::EnqueueHeld(std::vector<Pending> records) {
  std::unique_lock<std::mutex> lock(queue_mu_);
  --held_batches_;
  if (stopping_) {
    // The committers may be gone: refused (nothing of them was written, so nothing is released).
    queue_cv_.notify_all();  // under the lock: Stop cannot return before it
    lock.unlock();
    for (Pending& p : records) p.done(ShuttingDown());
    return;
  }
  // As Enqueue: idle -> written here; otherwise the running commit (or the committer woken for
  // what is queued) takes them next.
  const bool idle = !committing_ && queue_.empty();
  for (Pending& p : records) queue_.push_back(std::move(p));
  if (idle) WriteHere(lock, TakeBatch());
}

void GroupCommit::WriteHere(std::unique_lock<std::mutex>& lock, std::vector<Pending> batch) {
  committing_ = true;
  ++inline_writers_;
  lock.unlock();
  CommitAndReply(std::move(batch), /*inline_writer=*/true);
}

GroupCommit::GroupCommit(size_t max_batch, WriteFn write, AfterFn after)
    : max_batch_(max_batch == 0 ? 1 : max_batch), write_(std::move(write)), after_(std::move(after)) {
  for (int i = 0; i < kCommitters; ++i) committers_.emplace_back([this] { CommitterLoop(); });
}

GroupCommit::~GroupCommit() { Stop(); }

void GroupCommit::Stop() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  stopping_ = true;
  lock.unlock();
  queue_cv_.notify_all();
  for (std::thread& t : committers_) {
    if (t.joinable()) t.join();
  }
  // A write on an enqueuing thread may still run, or its callbacks (the committers left with the
  // queue empty).
  lock.lock();
  queue_cv_.wait(lock, [this] { return inline_writers_ == 0 && held_batches_ == 0; });
}

void GroupCommit::Enqueue(Record record, std::function<void(absl::Status)> done) {
  std::unique_lock<std::mutex> lock(queue_mu_);
  if (stopping_) {
    lock.unlock();
    return done(ShuttingDown());
  }
  if (batch_depth > 0) {
    // Queued when this thread's BatchOnThisThread ends, all at once.
    auto it = std::find_if(batch_held->begin(), batch_held->end(), [this](const auto& h) { return h.first == this; });
    if (it == batch_held->end()) {
      it = batch_held->insert(batch_held->end(), {this, {}});
      ++held_batches_;  // Stop waits for it: this object must outlive the EnqueueHeld to come
    }
    it->second.push_back(Pending{std::move(record), std::move(done)});
    return;
  }
  if (!committing_ && queue_.empty()) {
    // Idle: write it here, no committer to wake. Whatever arrives meanwhile queues behind it.
    std::vector<Pending> batch;
    batch.push_back(Pending{std::move(record), std::move(done)});
    return WriteHere(lock, std::move(batch));
  }
  // A commit runs (its writer looks at the queue when done) or a committer was woken for what
  // is queued: nobody to wake.
  queue_.push_back(Pending{std::move(record), std::move(done)});
}

// Everything that queued up while the previous commit was running, up to max_batch_.
std::vector<GroupCommit::Pending> GroupCommit::TakeBatch() {
  std::vector<Pending> batch;
  if (queue_.size() <= max_batch_) {
    batch.swap(queue_);
  } else {
    batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + max_batch_));
    queue_.erase(queue_.begin(), queue_.begin() + max_batch_);
  }
  return batch;
}

namespace {

// Takes out of `batch` the records whose sender an earlier refusal stopped (sender_stop.h): they
// are not written.
std::vector<GroupCommit::Pending> TakeStopped(std::vector<GroupCommit::Pending>& batch) {
  auto stopped = [](const GroupCommit::Pending& p) {
    return p.record.stop_at_refusal != nullptr && p.record.stop_at_refusal->stopped();
  };
  auto first = std::stable_partition(batch.begin(), batch.end(), [&](const auto& p) { return !stopped(p); });
  std::vector<GroupCommit::Pending> taken(std::make_move_iterator(first), std::make_move_iterator(batch.end()));
  batch.erase(first, batch.end());
  return taken;
}

}  // namespace

absl::Status GroupCommit::Write(const std::vector<Pending>& batch, std::vector<absl::Status>& results) {
  if (batch.empty()) return absl::OkStatus();
  const absl::Status txn = write_(batch, results);
  if (txn.ok()) {
    commits_.fetch_add(1);
    records_written_.fetch_add(batch.size());
  }
  if (after_) after_(batch);
  // Before the turn is handed over: the next commit already leaves out the senders stopped here.
  for (size_t i = 0; i < batch.size(); ++i) {
    const std::shared_ptr<StopAtRefusal>& stop = batch[i].record.stop_at_refusal;
    if (stop != nullptr && StopsSender(txn.ok() ? results[i] : txn)) stop->Refuse();
  }
  return txn;
}

void GroupCommit::CommitAndReply(std::vector<Pending> batch, bool inline_writer) {
  std::vector<Pending> not_started = TakeStopped(batch);
  std::vector<absl::Status> results(batch.size());
  const absl::Status txn = Write(batch, results);

  std::unique_lock<std::mutex> lock(queue_mu_);
  committing_ = false;
  const bool more = !queue_.empty();
  const bool stopping = stopping_;
  lock.unlock();
  if (stopping) {
    queue_cv_.notify_all();  // committers re-check whether to leave; Stop may wait for this write
  } else if (more) {
    queue_cv_.notify_one();  // a committer writes what queued up meanwhile
  }
  {
    // The replies' audit records go to the log in one write(2) at the end (engine.h, audit_log.h).
    platform::DeferScope one_audit_write;
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done(txn.ok() ? std::move(results[i]) : txn);
    for (Pending& p : not_started) p.done(NotStartedError());
  }
  if (inline_writer) {
    // Notified under the lock: Stop cannot return (and the object go) before this is done.
    std::lock_guard<std::mutex> done_lock(queue_mu_);
    if (--inline_writers_ == 0 && stopping_) queue_cv_.notify_all();
  }
}

void GroupCommit::CommitterLoop() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  for (;;) {
    queue_cv_.wait(lock, [this] { return (!committing_ && !queue_.empty()) || (stopping_ && queue_.empty()); });
    if (queue_.empty()) return;  // stopping, and nothing left to write
    std::vector<Pending> batch = TakeBatch();
    committing_ = true;
    lock.unlock();
    CommitAndReply(std::move(batch), /*inline_writer=*/false);
    lock.lock();
  }
}

}  // namespace signer::equivocation
