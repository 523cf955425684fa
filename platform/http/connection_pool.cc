#include "platform/http/connection_pool.h"

#include <utility>

#include "absl/time/clock.h"

namespace platform::http {

std::unique_ptr<Connection> ConnectionPool::Take(uint64_t* dropped) {
  std::vector<std::unique_ptr<Connection>> dead;  // closed outside the lock
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  while (!idle_.empty()) {
    std::unique_ptr<Connection> c = std::move(idle_.back());
    idle_.pop_back();
    if (now - c->last_used < max_idle_ && c->LooksAlive()) {
      *dropped += dead.size();
      return c;
    }
    dead.push_back(std::move(c));
  }
  *dropped += dead.size();
  return nullptr;
}

void ConnectionPool::Put(std::unique_ptr<Connection> c) {
  c->last_used = absl::Now();
  c->reused = true;
  absl::MutexLock lock(&mu_);
  if (idle_.size() < capacity_) idle_.push_back(std::move(c));
}

}  // namespace platform::http
