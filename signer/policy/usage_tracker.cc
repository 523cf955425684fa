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
    b.tokens = {static_cast<double>(limits.burst), now};
  }
  if (!b.tokens.TryTake(b.rate, absl::Seconds(1), b.burst, now)) return RateLimited(rule, key, b.rate, b.burst);
  return Decision{absl::OkStatus(), rule};
}

void UsageTracker::Ledger::Add(const Amounts& a) {
  sum.fee = *chain::U256::CheckedAdd(sum.fee, a.fee);
  sum.value = *chain::U256::CheckedAdd(sum.value, a.value);
}

void UsageTracker::Ledger::Remove(const Amounts& a) {
  sum.fee = *chain::U256::CheckedSub(sum.fee, a.fee);
  sum.value = *chain::U256::CheckedSub(sum.value, a.value);
}

void UsageTracker::Prune(Ledger& ledger, absl::Time now) {
  const absl::Time horizon = now - absl::Hours(24);
  while (!ledger.entries.empty() && ledger.entries.front().at <= horizon) {
    ledger.Remove(ledger.entries.front().amounts);
    ledger.entries.pop_front();
  }
}

absl::Status UsageTracker::CheckBudget(const chain::Address& key, const char* what, const std::string& rule,
                                       const chain::U256& committed, const chain::U256& amount,
                                       const std::optional<chain::U256>& budget) {
  if (amount.IsZero()) return absl::OkStatus();  // e.g. a deploy under a lowered value budget
  absl::StatusOr<chain::U256> total = chain::U256::CheckedAdd(committed, amount);
  if (budget.has_value() && (!total.ok() || *total > *budget)) {
    return absl::ResourceExhaustedError(absl::StrCat(what, " budget ", rule, " exhausted for key ", key.Checksummed(),
                                                     ": ", committed.ToDecimal(),
                                                     " wei committed in the last 24 h, this ", "transaction adds ",
                                                     amount.ToDecimal(), ", budget ", budget->ToDecimal()));
  }
  if (!total.ok()) return absl::OutOfRangeError(absl::StrCat(what, " ledger overflow"));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> UsageTracker::Charge(const chain::Address& key, const Amounts& amounts,
                                              const KeyLimits& limits, std::string* rule) {
  const std::string fee_rule = absl::StrCat(limits.rule_prefix, ".fee_budget_24h_wei");
  const std::string value_rule = absl::StrCat(limits.rule_prefix, ".value_budget_24h_wei");
  if (limits.fee_budget_24h.has_value()) {
    *rule = fee_rule;
  } else if (limits.value_budget_24h.has_value()) {
    *rule = value_rule;
  }
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  Ledger& ledger = ledgers_[key];
  Prune(ledger, now);
  if (absl::Status s = CheckBudget(key, "fee", fee_rule, ledger.sum.fee, amounts.fee, limits.fee_budget_24h); !s.ok()) {
    if (absl::IsResourceExhausted(s)) *rule = fee_rule;
    return s;
  }
  if (absl::Status s = CheckBudget(key, "value", value_rule, ledger.sum.value, amounts.value, limits.value_budget_24h);
      !s.ok()) {
    if (absl::IsResourceExhausted(s)) *rule = value_rule;
    return s;
  }
  if (amounts.fee.IsZero() && amounts.value.IsZero()) return 0;
  const uint64_t id = next_id_++;
  ledger.entries.push_back(Entry{id, now, amounts});
  ledger.Add(amounts);
  return id;
}

void UsageTracker::Refund(const chain::Address& key, uint64_t charge_id) {
  if (charge_id == 0) return;
  absl::MutexLock lock(&mu_);
  auto it = ledgers_.find(key);
  if (it == ledgers_.end()) return;
  for (auto e = it->second.entries.begin(); e != it->second.entries.end(); ++e) {
    if (e->id == charge_id) {
      it->second.Remove(e->amounts);
      it->second.entries.erase(e);
      return;
    }
  }
}

void UsageTracker::Record(const chain::Address& key, absl::Time at, const chain::U256& fee, const chain::U256& value) {
  const absl::Time now = clock_();
  if (at <= now - absl::Hours(24) || (fee.IsZero() && value.IsZero())) return;
  absl::MutexLock lock(&mu_);
  Ledger& ledger = ledgers_[key];
  if (!chain::U256::CheckedAdd(ledger.sum.fee, fee).ok() || !chain::U256::CheckedAdd(ledger.sum.value, value).ok())
    return;
  // Keep time order (replay may come in any order).
  auto pos = std::upper_bound(ledger.entries.begin(), ledger.entries.end(), at,
                              [](absl::Time t, const Entry& e) { return t < e.at; });
  ledger.entries.insert(pos, Entry{next_id_++, at, Amounts{fee, value}});
  ledger.Add(Amounts{fee, value});
}

UsageTracker::Amounts UsageTracker::Committed(const chain::Address& key) {
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  auto it = ledgers_.find(key);
  if (it == ledgers_.end()) return Amounts{};
  Prune(it->second, now);
  return it->second.sum;
}

chain::U256 UsageTracker::Committed24h(const chain::Address& key) { return Committed(key).fee; }
chain::U256 UsageTracker::CommittedValue24h(const chain::Address& key) { return Committed(key).value; }

}  // namespace signer::policy
