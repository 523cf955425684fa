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
//
// Kinds are the OperationKind names without the prefix ("deploy_cvm", "update_env_vars", ...).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_METRICS_ORCHESTRATOR_METRICS_H_
#define ONCHAIN_KMS_ORCHESTRATOR_METRICS_ORCHESTRATOR_METRICS_H_

#include <string>

#include "absl/time/time.h"
#include "onchainkms/orchestrator/v1/orchestrator.pb.h"
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

  // The exposition text.
  std::string Render() const;

 private:
  platform::metrics::CounterFamily started_;
  platform::metrics::CounterFamily succeeded_;
  platform::metrics::CounterFamily failed_;
  platform::metrics::CounterFamily cloud_responses_;
  platform::metrics::HistogramFamily journal_writes_;
};

}  // namespace orchestrator::metrics

#endif  // ONCHAIN_KMS_ORCHESTRATOR_METRICS_ORCHESTRATOR_METRICS_H_
