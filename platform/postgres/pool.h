// A bounded set of Connections to one database, shared by threads: Acquire lends one connection
// to one thread until the Lease ends. Connections open lazily (the first at Create, so a bad DSN
// or password fails start-up) and are kept; one that lost its server reconnects on next use
// (connection.h), so the pool never has to tell good from bad ones.
#ifndef ONCHAIN_KMS_PLATFORM_POSTGRES_POOL_H_
#define ONCHAIN_KMS_PLATFORM_POSTGRES_POOL_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "platform/postgres/connection.h"
#include "platform/postgres/dsn.h"

namespace platform::postgres {

struct PoolOptions {
  int max_connections = 4;
  ConnectOptions connect;
};

class Pool {
 public:
  // A connection lent by the pool; returned to it on destruction. The Pool must outlive it.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }

   private:
    friend class Pool;
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  // Opens the first connection: its error (UNAUTHENTICATED, UNAVAILABLE, ...) is Create's.
  static absl::StatusOr<std::unique_ptr<Pool>> Create(const Dsn& dsn, const PoolOptions& options = {});
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // An idle connection, a new one while fewer than max_connections exist, or else waits for one
  // to come back; DEADLINE_EXCEEDED at `deadline`. A connection that cannot be opened is
  // that error (and does not count).
  absl::StatusOr<Lease> Acquire(absl::Time deadline = absl::InfiniteFuture());

 private:
  Pool(const Dsn& dsn, const PoolOptions& options) : dsn_(dsn), options_(options) {}
  void Return(std::unique_ptr<Connection> conn);

  const Dsn dsn_;
  const PoolOptions options_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + lent + being opened
};

}  // namespace platform::postgres

#endif  // ONCHAIN_KMS_PLATFORM_POSTGRES_POOL_H_
