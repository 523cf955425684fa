#include "chain/onchain/fees.h"

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "chain/jsonrpc/errors.h"

namespace chain::onchain {
namespace {

using u128 = unsigned __int128;

absl::StatusOr<u128> ToU128(const U256& v) {
  if (v.limbs()[2] != 0 || v.limbs()[3] != 0) return absl::OutOfRangeError("fee above 2^128 wei");
  return (static_cast<u128>(v.limbs()[1]) << 64) | v.limbs()[0];
}

U256 FromU128(u128 v) { return U256::FromLimbs(static_cast<uint64_t>(v), static_cast<uint64_t>(v >> 64), 0, 0); }

std::string Gwei(const U256& wei) {
  absl::StatusOr<u128> v = ToU128(wei);
  if (!v.ok()) return wei.ToDecimal() + " wei";
  const u128 whole = *v / kGwei;
  const u128 frac = *v % kGwei;
  std::string f = absl::StrCat(static_cast<uint64_t>(frac) + kGwei).substr(1);
  while (!f.empty() && f.back() == '0') f.pop_back();
  return absl::StrCat(FromU128(whole).ToDecimal(), f.empty() ? "" : ".", f, " gwei");
}

}  // namespace

absl::StatusOr<U256> ScalePercentCeil(const U256& v, uint64_t percent) {
  absl::StatusOr<u128> x = ToU128(v);
  if (!x.ok()) return x.status();
  if (*x > (~u128{0}) / (percent == 0 ? 1 : percent)) return absl::OutOfRangeError("fee overflow");
  const u128 product = *x * percent;
  return FromU128(product / 100 + (product % 100 != 0 ? 1 : 0));
}

absl::StatusOr<Fees> ComposeFees(const U256& next_base_fee, const U256& suggested_priority, const FeePolicy& policy) {
  U256 priority = std::clamp(suggested_priority, policy.min_priority_fee_per_gas,
                             std::max(policy.min_priority_fee_per_gas, policy.max_priority_fee_per_gas));
  absl::StatusOr<U256> scaled = ScalePercentCeil(next_base_fee, policy.base_fee_multiplier_percent);
  if (!scaled.ok()) return scaled.status();
  absl::StatusOr<U256> max_fee = U256::CheckedAdd(*scaled, priority);
  absl::StatusOr<U256> floor = U256::CheckedAdd(next_base_fee, priority);
  if (!max_fee.ok() || !floor.ok()) return absl::OutOfRangeError("fee overflow");
  if (*floor > policy.max_fee_per_gas_cap) {
    return absl::ResourceExhaustedError(absl::StrCat("fees: next base fee ", Gwei(next_base_fee), " + priority ",
                                                     Gwei(priority), " is above the max fee cap ",
                                                     Gwei(policy.max_fee_per_gas_cap)));
  }
  Fees f;
  f.base_fee_per_gas = next_base_fee;
  f.max_priority_fee_per_gas = priority;
  f.max_fee_per_gas = std::min(*max_fee, policy.max_fee_per_gas_cap);
  return f;
}

absl::StatusOr<Fees> EstimateFees(jsonrpc::Client& rpc, const FeePolicy& policy, const jsonrpc::CallOptions& opts) {
  absl::StatusOr<jsonrpc::FeeHistory> history =
      rpc.GetFeeHistory(FeeHistoryBlocks(policy), jsonrpc::BlockId::Latest(), {policy.reward_percentile}, opts);
  if (!history.ok()) return history.status();
  return FeesFromMarket(*history, rpc.MaxPriorityFeePerGas(opts), policy);
}

uint64_t FeeHistoryBlocks(const FeePolicy& policy) { return std::max<uint32_t>(policy.fee_history_blocks, 1); }

absl::StatusOr<Fees> FeesFromMarket(const jsonrpc::FeeHistory& history, absl::StatusOr<U256> priority,
                                    const FeePolicy& policy) {
  if (history.base_fee_per_gas.empty()) {
    return absl::FailedPreconditionError("fees: eth_feeHistory has no base fee (chain without EIP-1559?)");
  }
  const U256 next_base = history.base_fee_per_gas.back();
  if (!priority.ok()) {
    // Not every node has eth_maxPriorityFeePerGas: take the median of the non-zero rewards.
    const std::optional<jsonrpc::RpcErrorKind> kind = jsonrpc::GetRpcErrorKind(priority.status());
    if (!kind.has_value() ||
        (*kind != jsonrpc::RpcErrorKind::kMethodNotFound && *kind != jsonrpc::RpcErrorKind::kInvalidParams)) {
      return priority.status();
    }
    std::vector<U256> rewards;
    for (const std::vector<U256>& row : history.reward) {
      if (!row.empty() && !row[0].IsZero()) rewards.push_back(row[0]);
    }
    std::sort(rewards.begin(), rewards.end());
    priority = rewards.empty() ? policy.min_priority_fee_per_gas : rewards[rewards.size() / 2];
  }
  return ComposeFees(next_base, *priority, policy);
}

absl::StatusOr<Fees> BumpFees(const Fees& old, const Fees& market, const FeePolicy& policy) {
  const uint64_t pct = 100 + std::max<uint32_t>(policy.bump_percent, 10);
  absl::StatusOr<U256> min_priority = ScalePercentCeil(old.max_priority_fee_per_gas, pct);
  absl::StatusOr<U256> min_max = ScalePercentCeil(old.max_fee_per_gas, pct);
  if (!min_priority.ok()) return min_priority.status();
  if (!min_max.ok()) return min_max.status();
  // A zero priority fee bumps to 1 wei at least (10% of zero is zero).
  if (min_priority->IsZero()) min_priority = U256(1);
  Fees f;
  f.base_fee_per_gas = market.base_fee_per_gas;
  f.max_priority_fee_per_gas = std::max(*min_priority, market.max_priority_fee_per_gas);
  f.max_fee_per_gas = std::max(*min_max, market.max_fee_per_gas);
  if (f.max_priority_fee_per_gas > policy.max_priority_fee_per_gas) {
    f.max_priority_fee_per_gas = std::max(*min_priority, policy.max_priority_fee_per_gas);
  }
  if (f.max_fee_per_gas > policy.max_fee_per_gas_cap)
    f.max_fee_per_gas = std::max(*min_max, policy.max_fee_per_gas_cap);
  if (f.max_fee_per_gas < f.max_priority_fee_per_gas) f.max_fee_per_gas = f.max_priority_fee_per_gas;
  if (f.max_fee_per_gas > policy.max_fee_per_gas_cap || f.max_priority_fee_per_gas > policy.max_priority_fee_per_gas) {
    return absl::ResourceExhaustedError(
        absl::StrCat("fees: a bump of +", pct - 100, "% over max fee ", Gwei(old.max_fee_per_gas), " / priority ",
                     Gwei(old.max_priority_fee_per_gas), " exceeds the caps (", Gwei(policy.max_fee_per_gas_cap), " / ",
                     Gwei(policy.max_priority_fee_per_gas), ")"));
  }
  return f;
}

}  // namespace chain::onchain
