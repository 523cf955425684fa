// The idle keep-alive connections of one origin (private to //platform/http): at most
// `capacity` of them, each reused only while it has been idle less than `max_idle` and the peer
// has not closed it. Thread-safe.
#ifndef ONCHAIN_KMS_PLATFORM_HTTP_CONNECTION_POOL_H_
#define ONCHAIN_KMS_PLATFORM_HTTP_CONNECTION_POOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "platform/http/connection.h"

namespace platform::http {

class ConnectionPool {
 public:
  ConnectionPool(size_t capacity, absl::Duration max_idle) : capacity_(capacity), max_idle_(max_idle) {}

  // A live idle connection, or nullptr. `*dropped` counts the dead or expired ones discarded.
  std::unique_ptr<Connection> Take(uint64_t* dropped);
  // Keeps `c` for reuse, or closes it when the pool is full.
  void Put(std::unique_ptr<Connection> c);

 private:
  const size_t capacity_;
  const absl::Duration max_idle_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace platform::http

#endif  // ONCHAIN_KMS_PLATFORM_HTTP_CONNECTION_POOL_H_
