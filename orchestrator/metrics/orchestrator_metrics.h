// The orchestrator's Prometheus metrics, served on GET /metrics (config metrics_port, by
// platform::http::MetricsServer). Labels come from bounded sets only: operation kinds, HTTP
// status classes, journal write kinds; never ids, callers or request data.
//
//   orchestrator_operations_started_total{kind}        operations accepted (new, not a retry)
//   orchestrator_operations_succeeded_total{kind}      ... that ended SUCCEEDED
//   orchestrator_operations_failed_total{kind}         ... that ended FAILED
//   orchestrator_phala_cloud_responses_total{class}    Phala Cloud API attempts by answer:
//                                                      2xx, 3xx, 4xx, 5xx, or "error" (none)
//   orchestrator_journal_write_duration_seconds{write} journal writes (create, update) by time,
//                                                      retries included, failed ones too
//   orchestrator_step_duration_seconds{kind,step,result}  a step from its start in this process
//                                                      to SUCCEEDED or FAILED (result), retries
//                                                      included; steps paused (input, shutdown,
//                                                      journal outage) or cancelled are not timed
//   orchestrator_retries_total{layer,cause}            retries by who retried and why
//                                                      (retry_cause.h lists both sets)
//   orchestrator_rpc_failovers_total{chain_id}         JSON-RPC attempts moved to another endpoint
//   orchestrator_transactions_sent_total{chain_id}     new transactions (first version of a nonce)
//   orchestrator_transaction_fee_bumps_total{chain_id} pending ones re-signed with higher fees
//   orchestrator_transactions_dropped_total{chain_id}  ones the node no longer knew, sent again
//   orchestrator_transactions_replaced_total{chain_id} ones whose nonce a transaction not ours took
//   orchestrator_transactions_repaired_total{chain_id} orphaned requests of a dead replica re-signed
//
// Kinds are the OperationKind names without the prefix ("deploy_cvm", "update_env_vars", ...);
// steps the fixed names of orchestrator/flows; chain ids those of the config.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_METRICS_ORCHESTRATOR_METRICS_H_
#define ONCHAIN_KMS_ORCHESTRATOR_METRICS_ORCHESTRATOR_METRICS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "chain/jsonrpc/client.h"
#include "chain/onchain/nonce_allocator.h"
#include "cloudapi/cloud_client.h"
#include "onchainkms/orchestrator/v1/orchestrator.pb.h"
#include "orchestrator/metrics/retry_cause.h"
#include "platform/metrics/prometheus.h"

namespace orchestrator::metrics {

class OrchestratorMetrics {
 public:
  OrchestratorMetrics();

  void OperationStarted(onchainkms::orchestrator::v1::OperationKind kind);
  // An operation reached a final state (SUCCEEDED, FAILED; CANCELLED is not counted here).
  void OperationEnded(onchainkms::orchestrator::v1::OperationKind kind,
                      onchainkms::orchestrator::v1::OperationState state);
  // One attempt of a Phala Cloud API call: its HTTP status, 0 when no answer came.
  void PhalaCloudResponse(int http_status);
  // "create" or "update".
  void JournalWrite(const char* write, absl::Duration took);
  void StepEnded(onchainkms::orchestrator::v1::OperationKind kind, absl::string_view step, bool succeeded,
                 absl::Duration took);
  void Retry(RetryLayer layer, RetryCause cause);
  // Shows the chain's series at 0 (call once per configured chain).
  void ChainConfigured(uint64_t chain_id);
  void RpcFailover(uint64_t chain_id);
  void Transaction(uint64_t chain_id, chain::onchain::TxEvent event);

  // The clients' hooks, counting into this object (which must outlive them):
  // cloudapi::CloudClientOptions::observer (responses, retries),
  std::function<void(const cloudapi::CallEvent&)> CloudObserver();
  // chain::jsonrpc::ClientOptions::on_retry (retries, failovers) of one chain's client,
  std::function<void(const chain::jsonrpc::RetryEvent&)> RpcRetryObserver(uint64_t chain_id);
  // chain::onchain::NonceAllocatorOptions::observer of one chain's allocators.
  std::function<void(chain::onchain::TxEvent)> TxObserver(uint64_t chain_id);

  // The exposition text.
  std::string Render() const;

 private:
  platform::metrics::CounterFamily started_;
  platform::metrics::CounterFamily succeeded_;
  platform::metrics::CounterFamily failed_;
  platform::metrics::CounterFamily cloud_responses_;
  platform::metrics::HistogramFamily journal_writes_;
  platform::metrics::HistogramFamily steps_;
  platform::metrics::CounterFamily retries_;
  platform::metrics::CounterFamily failovers_;
  platform::metrics::CounterFamily tx_sent_;
  platform::metrics::CounterFamily tx_fee_bumps_;
  platform::metrics::CounterFamily tx_dropped_;
  platform::metrics::CounterFamily tx_replaced_;
  platform::metrics::CounterFamily tx_repaired_;
};

}  // namespace orchestrator::metrics

#endif  // ONCHAIN_KMS_ORCHESTRATOR_METRICS_ORCHESTRATOR_METRICS_H_
