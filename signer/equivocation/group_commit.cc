#include "signer/equivocation/group_commit.h"

#include <iterator>

namespace signer::equivocation {

GroupCommit::GroupCommit(size_t max_batch, WriteFn write, AfterFn after)
    : max_batch_(max_batch == 0 ? 1 : max_batch), write_(std::move(write)), after_(std::move(after)) {
  writer_ = std::thread([this] { WriterLoop(); });
  completer_ = std::thread([this] { CompleterLoop(); });
}

GroupCommit::~GroupCommit() { Stop(); }

void GroupCommit::Stop() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    done_stopping_ = true;
  }
  done_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
}

void GroupCommit::Enqueue(Record record, std::function<void(absl::Status)> done) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (stopping_) {
      done(absl::UnavailableError("anti-equivocation db: shutting down"));
      return;
    }
    queue_.push_back(Pending{std::move(record), std::move(done)});
  }
  queue_cv_.notify_one();
}

// Everything that queued up while the previous commit was running, up to max_batch_.
std::vector<GroupCommit::Pending> GroupCommit::TakeBatch(std::unique_lock<std::mutex>&) {
  std::vector<Pending> batch;
  if (queue_.size() <= max_batch_) {
    batch.swap(queue_);
  } else {
    batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + max_batch_));
    queue_.erase(queue_.begin(), queue_.begin() + max_batch_);
  }
  return batch;
}

void GroupCommit::WriterLoop() {
  for (;;) {
    std::vector<Pending> batch;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      batch = TakeBatch(lock);
    }
    std::vector<absl::Status> results(batch.size());
    const absl::Status txn = write_(batch, results);
    if (txn.ok()) {
      commits_.fetch_add(1);
      records_written_.fetch_add(batch.size());
    }
    if (after_) after_(batch);
    {
      std::lock_guard<std::mutex> lock(done_mu_);
      for (size_t i = 0; i < batch.size(); ++i) {
        done_queue_.emplace_back(std::move(batch[i].done), txn.ok() ? results[i] : txn);
      }
    }
    done_cv_.notify_one();
  }
}

void GroupCommit::CompleterLoop() {
  std::vector<std::pair<std::function<void(absl::Status)>, absl::Status>> work;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(done_mu_);
      done_cv_.wait(lock, [this] { return done_stopping_ || !done_queue_.empty(); });
      if (done_queue_.empty() && done_stopping_) return;
      work.swap(done_queue_);
    }
    for (auto& [done, status] : work) done(std::move(status));
    work.clear();
  }
}

}  // namespace signer::equivocation
