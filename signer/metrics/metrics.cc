#include "signer/metrics/metrics.h"

#include <utility>
#include <vector>

namespace signer::metrics {
namespace {

using platform::metrics::CallbackMetric;

// From 50 µs (a cached answer) to 5 s (a slow group commit).
std::vector<double> RequestBoundsSeconds() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0};
}

std::vector<std::string> Labels(absl::string_view a) { return {std::string(a)}; }
std::vector<std::string> Labels(absl::string_view a, absl::string_view b) { return {std::string(a), std::string(b)}; }

}  // namespace

Metrics::Metrics()
    : requests_("signer_requests_total", "Signer RPCs by method and outcome (gRPC status).", {"method", "outcome"}),
      latency_("signer_request_duration_seconds", "Signer RPC latency, from arrival to reply.", {"method"},
               RequestBoundsSeconds()),
      signatures_("signer_signatures_total",
                  "Signatures released, by method and nonce use (first, fee_bump, repeat, message).",
                  {"method", "nonce_use"}),
      signing_("signer_signing_duration_seconds", "Time of the secp256k1 signature itself, by method.", {"method"},
               RequestBoundsSeconds()),
      equivocation_refusals_("signer_equivocation_refusals_total",
                             "Requests refused by the anti-equivocation record (another transaction at the nonce).",
                             {"method"}),
      denials_("signer_policy_denials_total", "Requests refused by the policy or its limits, by rule.", {"rule"}),
      reloads_("signer_policy_reloads_total", "Policy reloads (SIGHUP) by result.", {"result"}, {{"ok"}, {"rejected"}}),
      audit_writes_(
          "signer_audit_write_duration_seconds",
          "Time of an audit log append until its record is written (a group commit's replies share one write; with "
          "audit_fsync_every_record also its fdatasync), by result.",
          {"result"}, RequestBoundsSeconds()),
      keys_loaded_("signer_keys_loaded", "Keys held by the signer.", CallbackMetric::Type::kGauge),
      refused_connections_("signer_refused_connections_total",
                           "Unix socket connections refused (peer uid not allowed).", CallbackMetric::Type::kCounter),
      commits_("signer_equivocation_commits_total", "Group commits (fsyncs) of the anti-equivocation db.",
               CallbackMetric::Type::kCounter),
      records_("signer_equivocation_records_total", "Signatures recorded durably.", CallbackMetric::Type::kCounter) {
  SetKeysLoaded(0);
}

void Metrics::ObserveRequest(absl::string_view method, absl::string_view outcome, absl::Duration latency) {
  requests_.Increment(Labels(method, outcome));
  latency_.Observe(Labels(method), absl::ToDoubleSeconds(latency));
}

void Metrics::Signed(absl::string_view method, absl::string_view nonce_use) {
  signatures_.Increment(Labels(method, nonce_use));
}

void Metrics::Signing(absl::string_view method, absl::Duration took) {
  signing_.Observe(Labels(method), absl::ToDoubleSeconds(took));
}

void Metrics::EquivocationRefusal(absl::string_view method) { equivocation_refusals_.Increment(Labels(method)); }

void Metrics::PolicyDenial(absl::string_view rule) { denials_.Increment(Labels(rule)); }

void Metrics::PolicyReload(bool ok) { reloads_.Increment({ok ? "ok" : "rejected"}); }

void Metrics::AuditWrite(bool ok, absl::Duration took) {
  audit_writes_.Observe({ok ? "ok" : "failed"}, absl::ToDoubleSeconds(took));
}

void Metrics::SetKeysLoaded(int64_t n) {
  keys_loaded_.Set([n] { return static_cast<double>(n); });
}

void Metrics::SetRefusedConnectionsFn(std::function<uint64_t()> fn) {
  refused_connections_.Set([fn = std::move(fn)] { return static_cast<double>(fn()); });
}

void Metrics::SetGroupCommitFns(std::function<uint64_t()> commits, std::function<uint64_t()> records) {
  commits_.Set([fn = std::move(commits)] { return static_cast<double>(fn()); });
  records_.Set([fn = std::move(records)] { return static_cast<double>(fn()); });
}

std::string Metrics::Render() const {
  std::string out;
  requests_.AppendText(&out);
  latency_.AppendText(&out);
  signatures_.AppendText(&out);
  signing_.AppendText(&out);
  equivocation_refusals_.AppendText(&out);
  denials_.AppendText(&out);
  reloads_.AppendText(&out);
  audit_writes_.AppendText(&out);
  keys_loaded_.AppendText(&out);
  refused_connections_.AppendText(&out);
  commits_.AppendText(&out);
  records_.AppendText(&out);
  return out;
}

}  // namespace signer::metrics
