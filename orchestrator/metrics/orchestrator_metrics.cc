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

std::vector<std::vector<std::string>> AllRetries() {
  std::vector<std::vector<std::string>> out;
  for (const auto& [layer, cause] : PossibleRetries()) {
    out.push_back({std::string(LayerName(layer)), std::string(CauseName(cause))});
  }
  return out;
}

// From 10 ms (a read) to 10 min (a transaction waiting for its receipt, retries included).
std::vector<double> StepBoundsSeconds() { return {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}; }

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
                      platform::metrics::LatencyBoundsSeconds()),
      steps_("orchestrator_step_duration_seconds",
             "Time of a step from its start in this process to SUCCEEDED or FAILED, retries included.",
             {"kind", "step", "result"}, StepBoundsSeconds()),
      retries_("orchestrator_retries_total", "Retries by who retried (layer) and why (cause).", {"layer", "cause"},
               AllRetries()),
      failovers_("orchestrator_rpc_failovers_total", "JSON-RPC attempts moved to another endpoint after a failure.",
                 {"chain_id"}),
      tx_sent_("orchestrator_transactions_sent_total",
               "New transactions signed to be broadcast (first version of a nonce).", {"chain_id"}),
      tx_fee_bumps_("orchestrator_transaction_fee_bumps_total",
                    "Pending transactions re-signed with higher fees (same call, same nonce).", {"chain_id"}),
      tx_dropped_("orchestrator_transactions_dropped_total",
                  "Transactions the node no longer knew (dropped, evicted, reorged), broadcast again.", {"chain_id"}),
      tx_replaced_("orchestrator_transactions_replaced_total",
                   "Transactions whose nonce was taken by a transaction that is none of ours.", {"chain_id"}),
      tx_repaired_("orchestrator_transactions_repaired_total",
                   "Signature requests of a replica that died, signed again by another.", {"chain_id"}) {}

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

void OrchestratorMetrics::StepEnded(v1::OperationKind kind, absl::string_view step, bool succeeded,
                                    absl::Duration took) {
  steps_.Observe({KindLabel(kind), std::string(step), succeeded ? "succeeded" : "failed"}, absl::ToDoubleSeconds(took));
}

void OrchestratorMetrics::Retry(RetryLayer layer, RetryCause cause) {
  retries_.Increment({std::string(LayerName(layer)), std::string(CauseName(cause))});
}

void OrchestratorMetrics::ChainConfigured(uint64_t chain_id) {
  const std::vector<std::string> chain = {absl::StrCat(chain_id)};
  for (platform::metrics::CounterFamily* f :
       {&failovers_, &tx_sent_, &tx_fee_bumps_, &tx_dropped_, &tx_replaced_, &tx_repaired_}) {
    f->Increment(chain, 0);
  }
}

void OrchestratorMetrics::RpcFailover(uint64_t chain_id) { failovers_.Increment({absl::StrCat(chain_id)}); }

void OrchestratorMetrics::Transaction(uint64_t chain_id, chain::onchain::TxEvent event) {
  using chain::onchain::TxEvent;
  const std::vector<std::string> chain = {absl::StrCat(chain_id)};
  switch (event) {
    case TxEvent::kSent:
      return tx_sent_.Increment(chain);
    case TxEvent::kFeeBump:
      return tx_fee_bumps_.Increment(chain);
    case TxEvent::kRebroadcast:
      return tx_dropped_.Increment(chain);
    case TxEvent::kNonceConflict:
      return tx_replaced_.Increment(chain);
    case TxEvent::kRepaired:
      return tx_repaired_.Increment(chain);
  }
}

std::function<void(const cloudapi::CallEvent&)> OrchestratorMetrics::CloudObserver() {
  return [this](const cloudapi::CallEvent& e) {
    PhalaCloudResponse(e.http_status);
    if (e.retry_in.has_value()) Retry(RetryLayer::kPhalaCloud, CloudRetryCause(e));
  };
}

std::function<void(const chain::jsonrpc::RetryEvent&)> OrchestratorMetrics::RpcRetryObserver(uint64_t chain_id) {
  return [this, chain_id](const chain::jsonrpc::RetryEvent& e) {
    Retry(RetryLayer::kJsonRpc, RpcRetryCause(e.error));
    if (e.failover) RpcFailover(chain_id);
  };
}

std::function<void(chain::onchain::TxEvent)> OrchestratorMetrics::TxObserver(uint64_t chain_id) {
  return [this, chain_id](chain::onchain::TxEvent e) { Transaction(chain_id, e); };
}

std::string OrchestratorMetrics::Render() const {
  std::string out;
  started_.AppendText(&out);
  succeeded_.AppendText(&out);
  failed_.AppendText(&out);
  cloud_responses_.AppendText(&out);
  journal_writes_.AppendText(&out);
  steps_.AppendText(&out);
  retries_.AppendText(&out);
  for (const platform::metrics::CounterFamily* f :
       {&failovers_, &tx_sent_, &tx_fee_bumps_, &tx_dropped_, &tx_replaced_, &tx_repaired_}) {
    f->AppendText(&out);
  }
  return out;
}

}  // namespace orchestrator::metrics
