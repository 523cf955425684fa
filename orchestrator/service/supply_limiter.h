// Rate limit on SupplyEnvVars, against online guessing of env values: every call is checked
// against the original request's keyed digest, so each one is a guess. Token buckets per
// operation and per caller; an empty bucket is RESOURCE_EXHAUSTED before anything is compared.
//
// Per process: with several replicas behind a load balancer a guesser gets the rate once per
// replica, which still bounds guessing to a few per minute per replica (an env value worth
// protecting is not guessable at that rate; a low-entropy one is not safe against anything).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_SERVICE_SUPPLY_LIMITER_H_
#define ONCHAIN_KMS_ORCHESTRATOR_SERVICE_SUPPLY_LIMITER_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "platform/token_bucket.h"

namespace orchestrator::service {

struct SupplyLimits {
  // A legitimate client supplies once per operation (and retries a lost answer with the same
  // request_id a few times): 5 per minute per operation leaves room for that and makes guessing
  // one operation's values a matter of years for anything but a tiny value space.
  double per_operation_per_minute = 5;
  // A caller supplying to many operations at once (a CI resuming after a restart): 30 per minute.
  double per_caller_per_minute = 30;
};

class SupplyLimiter {
 public:
  explicit SupplyLimiter(SupplyLimits limits = {}) : limits_(limits) {}

  // Takes one token from the operation's and from the caller's bucket (both full at first, as
  // big as their per-minute rate), or RESOURCE_EXHAUSTED naming which limit and when to retry.
  absl::Status Take(absl::string_view operation_id, absl::string_view caller, absl::Time now = absl::Now());

 private:
  using Bucket = platform::TokenBucket;
  void PruneFull(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Buckets kept before full ones (as good as absent) are dropped.
  static constexpr size_t kPruneAbove = 4096;

  const SupplyLimits limits_;
  absl::Mutex mu_;
  size_t prune_at_ ABSL_GUARDED_BY(mu_) = kPruneAbove;
  absl::flat_hash_map<std::string, Bucket> operations_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Bucket> callers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace orchestrator::service

#endif  // ONCHAIN_KMS_ORCHESTRATOR_SERVICE_SUPPLY_LIMITER_H_
