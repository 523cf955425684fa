// EIP-1559 fees: an estimate from the node (eth_feeHistory's next base fee, eth_maxPriorityFeePerGas
// or the fee-history rewards) within configured caps, and the fee bump of a stuck transaction.
#ifndef ONCHAIN_KMS_CHAIN_ONCHAIN_FEES_H_
#define ONCHAIN_KMS_CHAIN_ONCHAIN_FEES_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "chain/jsonrpc/cancel.h"
#include "chain/jsonrpc/client.h"
#include "chain/u256.h"

namespace chain::onchain {

inline constexpr uint64_t kGwei = 1'000'000'000;

struct FeePolicy {
  // maxFeePerGas = next base fee * base_fee_multiplier_percent / 100 + priority fee. 200 (2x)
  // survives six full blocks of +12.5% base-fee growth; the SDK (viem) uses 120.
  uint32_t base_fee_multiplier_percent = 200;
  // The priority fee is clamped to [min, max].
  U256 min_priority_fee_per_gas = U256(0);
  U256 max_priority_fee_per_gas = U256(50 * kGwei);
  // Never sign a transaction above this maxFeePerGas (should match the signer policy's cap).
  U256 max_fee_per_gas_cap = U256(500 * kGwei);
  // Fee-history window and the reward percentile used when eth_maxPriorityFeePerGas is absent.
  uint32_t fee_history_blocks = 10;
  double reward_percentile = 50;
  // A replacement raises both fees by this much (the signer and geth's txpool demand >= 10).
  uint32_t bump_percent = 15;
};

struct Fees {
  U256 max_fee_per_gas;
  U256 max_priority_fee_per_gas;
  U256 base_fee_per_gas;  // the next block's, as estimated (informational)
  friend bool operator==(const Fees&, const Fees&) = default;
};

// RESOURCE_EXHAUSTED when the market (next base fee + minimum priority) is above the cap.
absl::StatusOr<Fees> EstimateFees(jsonrpc::Client& rpc, const FeePolicy& policy, const jsonrpc::CallOptions& opts = {});

// The market from the node's answers: eth_feeHistory(FeeHistoryBlocks(policy), latest,
// [policy.reward_percentile]) and eth_maxPriorityFeePerGas (its error when the node has no such
// method: the median of the fee-history rewards instead). What EstimateFees does with them.
uint64_t FeeHistoryBlocks(const FeePolicy& policy);
absl::StatusOr<Fees> FeesFromMarket(const jsonrpc::FeeHistory& history, absl::StatusOr<U256> priority,
                                    const FeePolicy& policy);

// Pure: combines a next base fee and a suggested priority fee under the policy.
absl::StatusOr<Fees> ComposeFees(const U256& next_base_fee, const U256& suggested_priority, const FeePolicy& policy);

// The replacement of a transaction signed with `old`: both fees at least old * (100 +
// bump_percent) / 100 (rounded up), and at least the current `market`, within the caps.
// RESOURCE_EXHAUSTED when the caps leave no room for a valid bump.
absl::StatusOr<Fees> BumpFees(const Fees& old, const Fees& market, const FeePolicy& policy);

// ceil(v * percent / 100); OUT_OF_RANGE above 2^128.
absl::StatusOr<U256> ScalePercentCeil(const U256& v, uint64_t percent);

}  // namespace chain::onchain

#endif  // ONCHAIN_KMS_CHAIN_ONCHAIN_FEES_H_
