// Per-key history the policy needs: a token bucket for the request rate limit, and a rolling
// 24-hour ledger of committed fees (gas_limit * max_fee_per_gas) and values (of generic
// transactions) for the fee and value budgets. In memory; the ledger is replayed from the
// anti-equivocation database at start-up (Record), so a restart does not reset the budgets.
// Thread-safe.
#ifndef ONCHAIN_KMS_SIGNER_POLICY_USAGE_TRACKER_H_
#define ONCHAIN_KMS_SIGNER_POLICY_USAGE_TRACKER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chain/address.h"
#include "chain/u256.h"
#include "platform/token_bucket.h"
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

  // What one signature adds to the key's ledgers.
  struct Amounts {
    chain::U256 fee;
    chain::U256 value;
  };
  // Charges `amounts` to the key's rolling 24 h budgets. Returns a charge id for Refund (0 when
  // nothing was charged). RESOURCE_EXHAUSTED naming "<prefix>.fee_budget_24h_wei" or
  // "<prefix>.value_budget_24h_wei" if a sum over the last 24 h including this charge would
  // exceed its budget (nothing charged then). `rule`: the refusing budget's rule, or on success
  // the fee budget's (else the value budget's) rule.
  absl::StatusOr<uint64_t> Charge(const chain::Address& key, const Amounts& amounts, const KeyLimits& limits,
                                  std::string* rule);
  // A fee alone.
  absl::StatusOr<uint64_t> Charge(const chain::Address& key, const chain::U256& fee, const KeyLimits& limits,
                                  std::string* rule) {
    return Charge(key, Amounts{fee, chain::U256()}, limits, rule);
  }
  // Takes back a charge whose signature was never released.
  void Refund(const chain::Address& key, uint64_t charge_id);
  // Replays a past charge (start-up, from the durable record).
  void Record(const chain::Address& key, absl::Time at, const chain::U256& fee,
              const chain::U256& value = chain::U256());
  // Sum of the key's fee charges in the last 24 h.
  chain::U256 Committed24h(const chain::Address& key);
  // Sum of the key's value charges in the last 24 h.
  chain::U256 CommittedValue24h(const chain::Address& key);

 private:
  struct Bucket {
    platform::TokenBucket tokens;
    double rate = 0;  // the policy's, to start afresh when a reload changes them
    uint32_t burst = 0;
  };
  struct Entry {
    uint64_t id;
    absl::Time at;
    Amounts amounts;
  };
  struct Ledger {
    std::deque<Entry> entries;  // in time order
    Amounts sum;
    void Add(const Amounts& a);  // sums never overflow: Charge and Record check first
    void Remove(const Amounts& a);
  };
  void Prune(Ledger& ledger, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Amounts Committed(const chain::Address& key);
  // RESOURCE_EXHAUSTED if `committed` + `amount` exceeds `budget` (when set); sets *rule then.
  static absl::Status CheckBudget(const chain::Address& key, const char* what, const std::string& rule,
                                  const chain::U256& committed, const chain::U256& amount,
                                  const std::optional<chain::U256>& budget);

  const Clock clock_;
  SharedBucket shared_bucket_;  // set before serving
  absl::Mutex mu_;
  absl::flat_hash_map<chain::Address, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<chain::Address, Ledger> ledgers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace signer::policy

#endif  // ONCHAIN_KMS_SIGNER_POLICY_USAGE_TRACKER_H_
