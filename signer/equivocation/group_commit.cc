#include "signer/equivocation/group_commit.h"

#include <algorithm>
#include <iterator>
#include <memory>
#include <utility>

namespace signer::equivocation {

namespace {
constexpr int kCommitters = 2;  // one writes while the other runs the previous batch's callbacks

// This thread's BatchOnThisThread: how deep, and the group commits it queued records into.
thread_local int batch_depth = 0;
thread_local std::vector<GroupCommit*>* batch_queued_into = nullptr;
}  // namespace

GroupCommit::BatchOnThisThread::BatchOnThisThread() {
  if (batch_depth++ == 0) batch_queued_into = new std::vector<GroupCommit*>();
}

GroupCommit::BatchOnThisThread::~BatchOnThisThread() {
  if (--batch_depth != 0) return;
  std::unique_ptr<std::vector<GroupCommit*>> queued_into(batch_queued_into);
  batch_queued_into = nullptr;
  for (GroupCommit* gc : *queued_into) gc->WriteQueuedHere();
}

void GroupCommit::WriteQueuedHere() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  --holds_;
  // A running commit takes the queue next; another thread's batch still being started, at its end.
  if (committing_ || queue_.empty() || holds_ > 0) return;
  std::vector<Pending> batch = TakeBatch();
  committing_ = true;
  lock.unlock();
  CommitAndReply(std::move(batch));
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
  // A write on an enqueuing thread may still run (the committers left with the queue empty).
  lock.lock();
  queue_cv_.wait(lock, [this] { return !committing_; });
}

void GroupCommit::Enqueue(Record record, std::function<void(absl::Status)> done) {
  std::unique_lock<std::mutex> lock(queue_mu_);
  if (stopping_) {
    lock.unlock();
    return done(absl::UnavailableError("anti-equivocation db: shutting down"));
  }
  if (batch_depth > 0) {
    // Written when this thread's BatchOnThisThread ends (or by the commit that runs meanwhile).
    queue_.push_back(Pending{std::move(record), std::move(done)});
    if (std::find(batch_queued_into->begin(), batch_queued_into->end(), this) == batch_queued_into->end()) {
      batch_queued_into->push_back(this);
      ++holds_;
    }
    return;
  }
  if (!committing_ && queue_.empty()) {
    // Idle: write it here, no committer to wake. Whatever arrives meanwhile queues behind it.
    committing_ = true;
    lock.unlock();
    std::vector<Pending> batch;
    batch.push_back(Pending{std::move(record), std::move(done)});
    return CommitAndReply(std::move(batch));
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

void GroupCommit::CommitAndReply(std::vector<Pending> batch) {
  std::vector<absl::Status> results(batch.size());
  const absl::Status txn = write_(batch, results);
  if (txn.ok()) {
    commits_.fetch_add(1);
    records_written_.fetch_add(batch.size());
  }
  if (after_) after_(batch);

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
  for (size_t i = 0; i < batch.size(); ++i) batch[i].done(txn.ok() ? std::move(results[i]) : txn);
}

void GroupCommit::CommitterLoop() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  for (;;) {
    queue_cv_.wait(
        lock, [this] { return (!committing_ && holds_ == 0 && !queue_.empty()) || (stopping_ && queue_.empty()); });
    if (queue_.empty()) return;  // stopping, and nothing left to write
    std::vector<Pending> batch = TakeBatch();
    committing_ = true;
    lock.unlock();
    CommitAndReply(std::move(batch));
    lock.lock();
  }
}

}  // namespace signer::equivocation
