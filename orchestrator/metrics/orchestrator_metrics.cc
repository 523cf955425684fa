#include "orchestrator/metrics/orchestrator_metrics.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace orchestrator::metrics {
namespace {

namespace v1 = ::onchainkms::orchestrator::v1;

std::string KindLabel(v1::OperationKind kind) {
  absl::string_view name = v1::OperationKind_Name(kind);
  if (name.empty()) return absl::StrCat("kind_", static_cast<int>(kind));
  absl::ConsumePrefix(&name, "OPERATION_KIND_");
  return absl::AsciiStrToLower(name);
}

// Every known kind, so each series is there (at 0) from the start.
std::vector<std::vector<std::string>> AllKinds() {
  std::vector<std::vector<std::string>> out;
  const google::protobuf::EnumDescriptor* d = v1::OperationKind_descriptor();
  for (int i = 0; i < d->value_count(); ++i) {
    const auto kind = static_cast<v1::OperationKind>(d->value(i)->number());
    if (kind != v1::OPERATION_KIND_UNSPECIFIED) out.push_back({KindLabel(kind)});
  }
  return out;
}

}  // namespace

OrchestratorMetrics::OrchestratorMetrics()
    : started_("orchestrator_operations_started_total", "Operations accepted (a retry of a request is not counted).",
               {"kind"}, AllKinds()),
      succeeded_("orchestrator_operations_succeeded_total", "Operations that ended SUCCEEDED.", {"kind"}, AllKinds()),
      failed_("orchestrator_operations_failed_total", "Operations that ended FAILED.", {"kind"}, AllKinds()),
      cloud_responses_("orchestrator_phala_cloud_responses_total",
                       "Phala Cloud API attempts by HTTP status class (error: no answer).", {"class"},
                       {{"2xx"}, {"3xx"}, {"4xx"}, {"5xx"}, {"error"}}),
      journal_writes_("orchestrator_journal_write_duration_seconds",
                      "Time of a journal write (create, update), retries of a busy journal included.", {"write"},
                      platform::metrics::LatencyBoundsSeconds()) {}

void OrchestratorMetrics::OperationStarted(v1::OperationKind kind) { started_.Increment({KindLabel(kind)}); }

void OrchestratorMetrics::OperationEnded(v1::OperationKind kind, v1::OperationState state) {
  if (state == v1::OPERATION_STATE_SUCCEEDED) succeeded_.Increment({KindLabel(kind)});
  if (state == v1::OPERATION_STATE_FAILED) failed_.Increment({KindLabel(kind)});
}

void OrchestratorMetrics::PhalaCloudResponse(int http_status) {
  const bool answered = http_status >= 100 && http_status < 600;
  cloud_responses_.Increment({answered ? absl::StrCat(http_status / 100, "xx") : "error"});
}

void OrchestratorMetrics::JournalWrite(const char* write, absl::Duration took) {
  journal_writes_.Observe({write}, absl::ToDoubleSeconds(took));
}

std::string OrchestratorMetrics::Render() const {
  std::string out;
  started_.AppendText(&out);
  succeeded_.AppendText(&out);
  failed_.AppendText(&out);
  cloud_responses_.AppendText(&out);
  journal_writes_.AppendText(&out);
  return out;
}

}  // namespace orchestrator::metrics
