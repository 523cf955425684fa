// Per-key history the policy needs: a token bucket for the request rate limit, and a rolling
// 24-hour ledger of committed fees (gas_limit * max_fee_per_gas) for the fee budget. In memory;
// the ledger is replayed from the anti-equivocation database at start-up (Record), so a restart
// does not reset the budget. Thread-safe.
#ifndef ONCHAIN_KMS_SIGNER_POLICY_USAGE_TRACKER_H_
#define ONCHAIN_KMS_SIGNER_POLICY_USAGE_TRACKER_H_

#include <cstdint>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chain/address.h"
#include "chain/u256.h"
#include "signer/policy/policy.h"

namespace signer::policy {

class UsageTracker {
 public:
  using Clock = std::function<absl::Time()>;
  explicit UsageTracker(Clock clock = [] { return absl::Now(); });

  // Takes one request from the key's bucket (a no-op without a rate limit).
  // RESOURCE_EXHAUSTED naming "<limits.rule_prefix>.rate_limit" when empty.
  Decision TakeRequest(const chain::Address& key, const KeyLimits& limits);

  // A token bucket shared by signer replicas (kept in their shared database): takes one token
  // from `key`'s bucket refilled at `rate` per second up to `burst`; true if there was one.
  using SharedBucket = std::function<absl::StatusOr<bool>(const chain::Address& key, double rate, uint32_t burst)>;
  // From now on TakeRequest asks `bucket` (an error of it refuses the request: UNAVAILABLE).
  void UseSharedBucket(SharedBucket bucket) { shared_bucket_ = std::move(bucket); }

  // Charges `amount` to the key's rolling 24 h budget. Returns a charge id for Refund (0 when
  // nothing was charged). RESOURCE_EXHAUSTED naming "<prefix>.fee_budget_24h_wei" if the sum
  // over the last 24 h including this charge would exceed the budget (nothing charged then).
  absl::StatusOr<uint64_t> Charge(const chain::Address& key, const chain::U256& amount, const KeyLimits& limits,
                                  std::string* rule);
  // Takes back a charge whose signature was never released.
  void Refund(const chain::Address& key, uint64_t charge_id);
  // Replays a past charge (start-up, from the durable record).
  void Record(const chain::Address& key, absl::Time at, const chain::U256& amount);
  // Sum of the key's charges in the last 24 h.
  chain::U256 Committed24h(const chain::Address& key);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time last;
    double rate = 0;
    uint32_t burst = 0;
  };
  struct Entry {
    uint64_t id;
    absl::Time at;
    chain::U256 amount;
  };
  struct Ledger {
    std::deque<Entry> entries;  // in time order
    chain::U256 sum;
  };
  void Prune(Ledger& ledger, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock clock_;
  SharedBucket shared_bucket_;  // set before serving
  absl::Mutex mu_;
  absl::flat_hash_map<chain::Address, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<chain::Address, Ledger> ledgers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace signer::policy

#endif  // ONCHAIN_KMS_SIGNER_POLICY_USAGE_TRACKER_H_
