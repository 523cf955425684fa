#include "platform/postgres/pool.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/status_macros.h"

namespace platform::postgres {

Pool::Lease::Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {}

Pool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->Return(std::move(conn_));
}

absl::StatusOr<std::unique_ptr<Pool>> Pool::Create(const Dsn& dsn, const PoolOptions& options) {
  if (options.max_connections < 1) return absl::InvalidArgumentError("postgres pool: max_connections must be >= 1");
  std::unique_ptr<Pool> pool(new Pool(dsn, options));
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> first, Connection::Open(dsn, options.connect));
  absl::MutexLock lock(&pool->mu_);
  pool->idle_.push_back(std::move(first));
  pool->open_ = 1;
  return pool;
}

absl::StatusOr<Pool::Lease> Pool::Acquire(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    auto can_proceed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.max_connections;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&can_proceed), deadline)) {
      return absl::DeadlineExceededError(absl::StrCat("postgres ", dsn_.description(), ": all ",
                                                      options_.max_connections, " pool connections are in use"));
    }
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;  // reserve the slot; open outside the lock
  }
  absl::StatusOr<std::unique_ptr<Connection>> conn = Connection::Open(dsn_, options_.connect);
  if (!conn.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
    return conn.status();
  }
  return Lease(this, *std::move(conn));
}

void Pool::Return(std::unique_ptr<Connection> conn) {
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(conn));
}

}  // namespace platform::postgres
