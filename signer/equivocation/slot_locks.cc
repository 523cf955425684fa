#include "signer/equivocation/slot_locks.h"

#include <utility>

namespace signer::equivocation {

Slot::~Slot() { locks_->Release(key_); }

SlotLocks::SlotLocks(int handover_threads) {
  live_threads_ = handover_threads < 1 ? 1 : handover_threads;
  for (int i = 0; i < live_threads_; ++i) threads_.emplace_back([this] { HandOverLoop(); });
}

SlotLocks::~SlotLocks() { Stop(); }

void SlotLocks::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    stopping_ = true;
  }
  run_cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void SlotLocks::Acquire(const SlotKey& key, Then then) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, free] = held_.try_emplace(key);
    if (!free) {
      it->second.push_back(std::move(then));
      ++waiting_;
      return;
    }
  }
  std::move(then)(std::shared_ptr<Slot>(new Slot(this, key)));
}

void SlotLocks::Release(const SlotKey& key) {
  Then next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = held_.find(key);
    if (it == held_.end()) return;
    if (it->second.empty()) {
      held_.erase(it);
      return;
    }
    next = std::move(it->second.front());  // the slot stays held: handed over, not freed
    it->second.pop_front();
    --waiting_;
  }
  std::shared_ptr<Slot> slot(new Slot(this, key));
  Run([next = std::move(next), slot = std::move(slot)]() mutable { std::move(next)(std::move(slot)); });
}

void SlotLocks::Run(absl::AnyInvocable<void() &&> task) {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    if (live_threads_ > 0) {
      ready_.push_back(std::move(task));
      run_cv_.notify_one();
      return;
    }
  }
  std::move(task)();  // stopped: on the releasing thread
}

void SlotLocks::HandOverLoop() {
  for (;;) {
    absl::AnyInvocable<void() &&> task;
    {
      std::unique_lock<std::mutex> lock(run_mu_);
      run_cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
      if (ready_.empty()) {  // stopping, and nothing left to hand over
        --live_threads_;
        return;
      }
      task = std::move(ready_.front());
      ready_.pop_front();
    }
    std::move(task)();
  }
}

size_t SlotLocks::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_;
}

}  // namespace signer::equivocation
