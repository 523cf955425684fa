#include "signer/equivocation/group_commit.h"

#include <iterator>
#include <utility>

namespace signer::equivocation {

namespace {
constexpr int kCommitters = 2;  // one writes while the other runs the previous batch's callbacks
}  // namespace

GroupCommit::GroupCommit(size_t max_batch, WriteFn write, AfterFn after)
    : max_batch_(max_batch == 0 ? 1 : max_batch), write_(std::move(write)), after_(std::move(after)) {
  for (int i = 0; i < kCommitters; ++i) committers_.emplace_back([this] { CommitterLoop(); });
}

GroupCommit::~GroupCommit() { Stop(); }

void GroupCommit::Stop() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  for (std::thread& t : committers_) {
    if (t.joinable()) t.join();
  }
}

void GroupCommit::Enqueue(Record record, std::function<void(absl::Status)> done) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (!stopping_) {
      // A committer needs waking only if none is writing (a writing one looks at the queue when
      // it is done) and nothing was queued before (then one was woken already).
      wake = !committing_ && queue_.empty();
      queue_.push_back(Pending{std::move(record), std::move(done)});
      done = nullptr;
    }
  }
  if (done) return done(absl::UnavailableError("anti-equivocation db: shutting down"));
  if (wake) queue_cv_.notify_one();
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

void GroupCommit::CommitterLoop() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  for (;;) {
    queue_cv_.wait(lock, [this] { return (!committing_ && !queue_.empty()) || (stopping_ && queue_.empty()); });
    if (queue_.empty()) return;  // stopping, and nothing left to write
    std::vector<Pending> batch = TakeBatch();
    committing_ = true;
    lock.unlock();

    std::vector<absl::Status> results(batch.size());
    const absl::Status txn = write_(batch, results);
    if (txn.ok()) {
      commits_.fetch_add(1);
      records_written_.fetch_add(batch.size());
    }
    if (after_) after_(batch);

    lock.lock();
    committing_ = false;
    const bool more = !queue_.empty();
    lock.unlock();
    if (more) queue_cv_.notify_one();  // the other committer writes what queued up meanwhile
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done(txn.ok() ? std::move(results[i]) : txn);
    batch.clear();
    lock.lock();
  }
}

}  // namespace signer::equivocation
