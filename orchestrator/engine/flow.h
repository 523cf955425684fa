// A flow: the resumable state machine of one operation kind, run over journaled steps by the
// OperationManager through an OpContext (op_context.h). Flows live in orchestrator/flows/.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_ENGINE_FLOW_H_
#define ONCHAIN_KMS_ORCHESTRATOR_ENGINE_FLOW_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "chain/address.h"
#include "chain/jsonrpc/client.h"
#include "chain/onchain/operations.h"
#include "cloudapi/cloud_client.h"
#include "onchainkms/orchestrator/v1/orchestrator.pb.h"
#include "orchestrator/engine/owner_tx_inbox.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/metrics/orchestrator_metrics.h"
#include "orchestrator/state/flow_state.pb.h"

namespace orchestrator::engine {

namespace v1 = ::onchainkms::orchestrator::v1;
namespace state = ::orchestrator::state::v1;

class OpContext;
class JournalingSigner;

// What a step journals before its effect, besides its RUNNING intent (OpContext::RunStep).
// After the effect, the step journals its result with SUCCEEDED in one write (StepRun::Succeed).
enum class BeforeEffect {
  // Reads and computations: repeating them after a crash is harmless.
  kNothing,
  // A cloud call that changes state: the step is in `effect_sent` from its RUNNING write on, and
  // `irreversible` is journaled right before the call (StepRun::SendingEffect), so a step run
  // again (after a restart, a failed attempt or a pause) first checks whether the call took
  // effect (StepRun::effect_may_have_happened).
  kEffectSent,
  // An on-chain transaction: the signer journals each signed version (signing.h); a resumed
  // step adopts and waits for it instead of sending another.
  kTransaction,
};

// One chain the orchestrator serves.
struct ChainBackend {
  uint64_t chain_id = 0;
  v1::KmsType kms_type = v1::KMS_TYPE_UNSPECIFIED;
  chain::jsonrpc::Client* rpc = nullptr;
  chain::onchain::OnchainOperations* ops = nullptr;
  // How long one on-chain step may wait for its receipt in one attempt.
  absl::Duration receipt_timeout = absl::Minutes(10);
};

// How a step waiting for the app's owner watches the chain (flows/owner_action.h).
struct OwnerWatchOptions {
  absl::Duration initial_poll = absl::Seconds(2);  // doubles up to max_poll
  absl::Duration max_poll = absl::Seconds(30);
  uint64_t log_window = 2000;  // blocks per eth_getLogs (providers cap ranges, e.g. 10k or 500)
};

struct FlowOptions {
  // compose_hash_check_warn_only of the config: a mismatch between the API's compose hash and
  // ours is logged instead of failing the operation.
  bool compose_hash_warn_only = false;
  // Signer key used when a request names none (EIP-55); empty: requests must name one.
  std::optional<chain::Address> default_signer_key_address;
  // Trusted KMS keys (33-byte compressed secp256k1) that must have signed an app's
  // env-encryption key, by KMS id or slug; a KMS not listed gets the signature checked for form
  // and its signer recorded.
  std::map<std::string, std::array<uint8_t, 33>> trusted_kms_signers;
  OwnerWatchOptions owner_watch;
};

// What every flow may use. Owned by the process; outlives the manager.
struct FlowDeps {
  cloudapi::CloudClient* cloud = nullptr;
  std::map<uint64_t, ChainBackend> chains;
  JournalingSigner* signer = nullptr;  // may be null when no chain is configured
  journal::Journal* journal = nullptr;
  FlowOptions options;
  metrics::OrchestratorMetrics* metrics = nullptr;  // optional
  // The tenant of a caller (journal key) under the access policy, for operations submitted before
  // tenancy (FlowState.tenant empty). Unset: each caller is its own tenant.
  std::function<std::string(const std::string& caller)> tenant_of_caller;
  // The addresses of the keys the signer holds (its ListKeys), e.g. to tell whether an app's owner
  // is one of them. Unset: unknown.
  std::function<absl::StatusOr<std::vector<chain::Address>>()> signer_keys;
  // Whether the signer holds `key` and the operation's `caller` may sign with it on `chain_id`
  // (the access policy's grants). False: an app call that `key` must send waits for its owner
  // (flows/owner_action.h). Unset: every key counts as held.
  std::function<absl::StatusOr<bool>(absl::string_view caller, const chain::Address& key, uint64_t chain_id)>
      signer_may_send;
  // SubmitOwnerTransaction's hand-over to a step waiting for the owner (optional).
  OwnerTxInbox* owner_txs = nullptr;
};

// Flows are declared as step tables (step_table.h), which implement this.
class Flow {
 public:
  virtual ~Flow() = default;
  // The step names of a new operation, in order (all PENDING), from its request.
  virtual std::vector<std::string> InitialSteps(const state::FlowState& state) const = 0;
  // Runs (or resumes) the operation. OK: the manager marks it SUCCEEDED. An error from a failed
  // step: the step and the operation are already FAILED. Statuses of status_marks.h: waiting
  // for input, stopping, cancelled.
  virtual absl::Status Run(OpContext& ctx) = 0;
};

// The flow of each operation kind.
using FlowRegistry = std::map<v1::OperationKind, std::unique_ptr<Flow>>;

}  // namespace orchestrator::engine

#endif  // ONCHAIN_KMS_ORCHESTRATOR_ENGINE_FLOW_H_
