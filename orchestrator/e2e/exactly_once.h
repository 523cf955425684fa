// The exactly-once checks of a run with crashes, outages or several replicas (design § 9.1
// asserts 3–5, § 9.3): one AppAuth per deploy and one compose-hash transaction per two-phase
// update on chain, one accepted commit / confirming PATCH in the simulator, no nonce left open.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_E2E_EXACTLY_ONCE_H_
#define ONCHAIN_KMS_ORCHESTRATOR_E2E_EXACTLY_ONCE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "orchestrator/e2e/stack.h"

namespace orchestrator::e2e {

// The effects already there before the run.
struct EffectCounts {
  int app_deployed = 0;      // AppDeployedViaFactory logs of the KMS
  int accepted_commits = 0;  // POST /api/v1/cvms answered 2xx by the simulator
};
absl::StatusOr<EffectCounts> CountEffects(Stack& stack);

// A finished two-phase compose update and the app its CVM belongs to.
struct FinishedUpdate {
  v1::Operation operation;
  std::string app;
};

// Simulator requests with exactly this method and path that it answered 2xx.
int AcceptedSimRequests(Stack& stack, const std::string& method, const std::string& path);

// gtest expectations: every operation SUCCEEDED with every step SUCCEEDED; exactly one effect
// each on chain and in the simulator; the deployer's nonces all mined (latest == pending).
void ExpectExactlyOnce(Stack& stack, const EffectCounts& before, const std::vector<v1::Operation>& deploys,
                       const std::vector<FinishedUpdate>& updates);

// With the signer's record on PostgreSQL: every transaction the operations report is in the
// record (nothing released unrecorded), and the signed nonces are contiguous and all mined (no
// nonce signed twice as FIRST, none left open).
void ExpectSignerRecordMatchesChain(Stack& stack, const std::vector<v1::Operation>& deploys,
                                    const std::vector<FinishedUpdate>& updates);

}  // namespace orchestrator::e2e

#endif  // ONCHAIN_KMS_ORCHESTRATOR_E2E_EXACTLY_ONCE_H_
