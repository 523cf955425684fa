#include "signer/policy/usage_tracker.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace signer::policy {

namespace {

Decision RateLimited(const std::string& rule, const chain::Address& key, double rate, uint32_t burst) {
  return Decision{
      absl::ResourceExhaustedError(absl::StrCat("rate limit ", rule, " reached for key ", key.Checksummed(), " (", rate,
                                                " requests/s, burst ", burst, "); retry later")),
      rule};
}

}  // namespace

UsageTracker::UsageTracker(Clock clock) : clock_(std::move(clock)) {}

Decision UsageTracker::TakeRequest(const chain::Address& key, const KeyLimits& limits) {
  if (!limits.requests_per_second.has_value()) return Decision{absl::OkStatus(), ""};
  const std::string rule = absl::StrCat(limits.rule_prefix, ".rate_limit");
  if (shared_bucket_) {
    absl::StatusOr<bool> taken = shared_bucket_(key, *limits.requests_per_second, limits.burst);
    if (!taken.ok()) return Decision{absl::UnavailableError(taken.status().message()), rule};
    if (!*taken) return RateLimited(rule, key, *limits.requests_per_second, limits.burst);
    return Decision{absl::OkStatus(), rule};
  }
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  Bucket& b = buckets_[key];
  if (b.rate != *limits.requests_per_second || b.burst != limits.burst) {
    // New key, or the policy changed: start full with the new parameters.
    b.rate = *limits.requests_per_second;
    b.burst = limits.burst;
    b.tokens = limits.burst;
    b.last = now;
  }
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - b.last));
  b.tokens = std::min<double>(b.burst, b.tokens + elapsed * b.rate);
  b.last = now;
  if (b.tokens < 1.0) return RateLimited(rule, key, b.rate, b.burst);
  b.tokens -= 1.0;
  return Decision{absl::OkStatus(), rule};
}

void UsageTracker::Prune(Ledger& ledger, absl::Time now) {
  const absl::Time horizon = now - absl::Hours(24);
  while (!ledger.entries.empty() && ledger.entries.front().at <= horizon) {
    ledger.sum = *chain::U256::CheckedSub(ledger.sum, ledger.entries.front().amount);
    ledger.entries.pop_front();
  }
}

absl::StatusOr<uint64_t> UsageTracker::Charge(const chain::Address& key, const chain::U256& amount,
                                              const KeyLimits& limits, std::string* rule) {
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  Ledger& ledger = ledgers_[key];
  Prune(ledger, now);
  absl::StatusOr<chain::U256> total = chain::U256::CheckedAdd(ledger.sum, amount);
  if (limits.fee_budget_24h.has_value()) {
    *rule = absl::StrCat(limits.rule_prefix, ".fee_budget_24h_wei");
    if (!total.ok() || *total > *limits.fee_budget_24h) {
      return absl::ResourceExhaustedError(
          absl::StrCat("fee budget ", *rule, " exhausted for key ", key.Checksummed(), ": ", ledger.sum.ToDecimal(),
                       " wei committed in the last 24 h, this transaction adds ", amount.ToDecimal(), ", budget ",
                       limits.fee_budget_24h->ToDecimal()));
    }
  }
  if (amount.IsZero()) return 0;
  if (!total.ok()) return absl::OutOfRangeError("fee ledger overflow");
  const uint64_t id = next_id_++;
  ledger.entries.push_back(Entry{id, now, amount});
  ledger.sum = *total;
  return id;
}

void UsageTracker::Refund(const chain::Address& key, uint64_t charge_id) {
  if (charge_id == 0) return;
  absl::MutexLock lock(&mu_);
  auto it = ledgers_.find(key);
  if (it == ledgers_.end()) return;
  for (auto e = it->second.entries.begin(); e != it->second.entries.end(); ++e) {
    if (e->id == charge_id) {
      it->second.sum = *chain::U256::CheckedSub(it->second.sum, e->amount);
      it->second.entries.erase(e);
      return;
    }
  }
}

void UsageTracker::Record(const chain::Address& key, absl::Time at, const chain::U256& amount) {
  const absl::Time now = clock_();
  if (at <= now - absl::Hours(24) || amount.IsZero()) return;
  absl::MutexLock lock(&mu_);
  Ledger& ledger = ledgers_[key];
  absl::StatusOr<chain::U256> total = chain::U256::CheckedAdd(ledger.sum, amount);
  if (!total.ok()) return;
  // Keep time order (replay may come in any order).
  auto pos = std::upper_bound(ledger.entries.begin(), ledger.entries.end(), at,
                              [](absl::Time t, const Entry& e) { return t < e.at; });
  ledger.entries.insert(pos, Entry{next_id_++, at, amount});
  ledger.sum = *total;
}

chain::U256 UsageTracker::Committed24h(const chain::Address& key) {
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  auto it = ledgers_.find(key);
  if (it == ledgers_.end()) return chain::U256();
  Prune(it->second, now);
  return it->second.sum;
}

}  // namespace signer::policy
