// Prometheus metrics of the signer, in the text exposition format 0.0.4 (platform/metrics
// families); served on a port of their own by platform::http::MetricsServer (GET /metrics), apart
// from the gRPC listener. Label values are RPC method names, gRPC status names, policy rule
// names (bounded by the policy file) and the fixed nonce_use/result sets; never keys, callers or
// request data.
//
//   signer_requests_total{method,outcome}          RPCs by method and outcome (gRPC status, lower case)
//   signer_request_duration_seconds{method}        RPC latency, arrival to reply
//   signer_signatures_total{method,nonce_use}      signatures released: first, fee_bump, repeat
//                                                  (the stored one again), message
//   signer_signing_duration_seconds{method}        the secp256k1 signature itself (key store)
//   signer_equivocation_refusals_total{method}     refused by the anti-equivocation record
//   signer_policy_denials_total{rule}              refused by the policy or its limits
//   signer_policy_reloads_total{result}            SIGHUP reloads: ok, rejected
//   signer_audit_write_duration_seconds{result}    audit log appends: ok, failed
//   signer_keys_loaded                             keys held (gauge)
//   signer_refused_connections_total               Unix socket peers refused (uid not allowed)
//   signer_equivocation_commits_total              group commits (fsyncs) of the record
//   signer_equivocation_records_total              signatures recorded durably
#ifndef ONCHAIN_KMS_SIGNER_METRICS_METRICS_H_
#define ONCHAIN_KMS_SIGNER_METRICS_METRICS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "platform/metrics/prometheus.h"

namespace signer::metrics {

class Metrics {
 public:
  Metrics();

  // One finished request: signer_requests_total{method,outcome} and the latency histogram.
  void ObserveRequest(absl::string_view method, absl::string_view outcome, absl::Duration latency);
  // A signature released to the caller; nonce_use: first, fee_bump, repeat or message.
  void Signed(absl::string_view method, absl::string_view nonce_use);
  void Signing(absl::string_view method, absl::Duration took);
  void EquivocationRefusal(absl::string_view method);
  // signer_policy_denials_total{rule}: a request refused by policy (PERMISSION_DENIED or a limit).
  void PolicyDenial(absl::string_view rule);
  // signer_policy_reloads_total{result="ok"|"rejected"}.
  void PolicyReload(bool ok);
  void AuditWrite(bool ok, absl::Duration took);
  void SetKeysLoaded(int64_t n);
  void SetRefusedConnectionsFn(std::function<uint64_t()> fn);
  void SetGroupCommitFns(std::function<uint64_t()> commits, std::function<uint64_t()> records);

  // The exposition text.
  std::string Render() const;

 private:
  platform::metrics::CounterFamily requests_;
  platform::metrics::HistogramFamily latency_;
  platform::metrics::CounterFamily signatures_;
  platform::metrics::HistogramFamily signing_;
  platform::metrics::CounterFamily equivocation_refusals_;
  platform::metrics::CounterFamily denials_;
  platform::metrics::CounterFamily reloads_;
  platform::metrics::HistogramFamily audit_writes_;
  platform::metrics::CallbackMetric keys_loaded_;
  platform::metrics::CallbackMetric refused_connections_;
  platform::metrics::CallbackMetric commits_;
  platform::metrics::CallbackMetric records_;
};

}  // namespace signer::metrics

#endif  // ONCHAIN_KMS_SIGNER_METRICS_METRICS_H_
