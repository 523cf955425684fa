#include "orchestrator/service/supply_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace orchestrator::service {

void SupplyLimiter::PruneFull(absl::Time now) {
  // Amortized: a scan only when the maps have doubled since the last one.
  if (operations_.size() + callers_.size() <= prune_at_) return;
  for (auto* map : {&operations_, &callers_}) {
    const double rate = map == &operations_ ? limits_.per_operation_per_minute : limits_.per_caller_per_minute;
    absl::erase_if(*map, [&](const auto& e) { return e.second.Available(rate, absl::Minutes(1), rate, now) >= rate; });
  }
  prune_at_ = std::max(kPruneAbove, 2 * (operations_.size() + callers_.size()));
}

absl::Status SupplyLimiter::Take(absl::string_view operation_id, absl::string_view caller, absl::Time now) {
  absl::MutexLock l(&mu_);
  PruneFull(now);
  auto [op, op_new] = operations_.try_emplace(operation_id, Bucket{limits_.per_operation_per_minute, now});
  auto [who, who_new] = callers_.try_emplace(caller, Bucket{limits_.per_caller_per_minute, now});
  // Both are checked before either is charged, so a refusal costs nothing.
  Bucket op_after = op->second;
  Bucket who_after = who->second;
  const double op_rate = limits_.per_operation_per_minute;
  const double caller_rate = limits_.per_caller_per_minute;
  if (!op_after.TryTake(op_rate, absl::Minutes(1), op_rate, now)) {
    return absl::ResourceExhaustedError(absl::StrCat("SupplyEnvVars: at most ", limits_.per_operation_per_minute,
                                                     " calls per minute per operation; retry later"));
  }
  if (!who_after.TryTake(caller_rate, absl::Minutes(1), caller_rate, now)) {
    return absl::ResourceExhaustedError(absl::StrCat("SupplyEnvVars: at most ", limits_.per_caller_per_minute,
                                                     " calls per minute per caller; retry later"));
  }
  op->second = op_after;
  who->second = who_after;
  return absl::OkStatus();
}

}  // namespace orchestrator::service
