// Why something was tried again: the labels of orchestrator_retries_total. Both are small fixed
// sets, so a dashboard can sum by either.
//
//   layer        who retried
//   phala_cloud  the Phala Cloud client, one more attempt of one call (cloudapi RetryPolicy)
//   json_rpc     the JSON-RPC client, one more attempt of a read (or a send that never left)
//   journal      the engine, one more write to a busy journal (OpContext's short retries)
//   step         the engine, one more attempt of a step after a transient failure (RunOptions)
//
//   cause               from
//   http_429            the server answered 429 (rate limited)
//   http_5xx            the server answered 5xx
//   http_4xx            another retryable answer (408, 425)
//   timeout             no answer in time (DEADLINE_EXCEEDED)
//   connection          no answer: connect, TLS or a broken connection (UNAVAILABLE, also a
//                       peer that said it is unavailable)
//   rpc_error           a JSON-RPC error answer worth retrying (node behind, limit exceeded)
//   signer_unavailable  the signer could not be reached, or refused for now (its budget)
//   journal_busy        the journal answered UNAVAILABLE
//   other               any other transient failure (e.g. a fee market above the caps)
#ifndef ONCHAIN_KMS_ORCHESTRATOR_METRICS_RETRY_CAUSE_H_
#define ONCHAIN_KMS_ORCHESTRATOR_METRICS_RETRY_CAUSE_H_

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "cloudapi/cloud_client.h"

namespace orchestrator::metrics {

enum class RetryLayer { kPhalaCloud, kJsonRpc, kJournal, kStep };
enum class RetryCause {
  kHttp429,
  kHttp5xx,
  kHttp4xx,
  kTimeout,
  kConnection,
  kRpcError,
  kSignerUnavailable,
  kJournalBusy,
  kOther,
};

absl::string_view LayerName(RetryLayer layer);
absl::string_view CauseName(RetryCause cause);

// The cause of a Phala Cloud attempt that is tried again (CallEvent::retry_in set).
RetryCause CloudRetryCause(const cloudapi::CallEvent& event);
// The cause of a JSON-RPC attempt that is tried again (chain::jsonrpc::RetryEvent::error).
RetryCause RpcRetryCause(const absl::Status& error);
// The cause of a step's transient failure (engine IsTransient), wherever it came from.
RetryCause StepRetryCause(const absl::Status& error);

// The (layer, cause) pairs that can occur, for series shown at 0 from the start.
std::vector<std::pair<RetryLayer, RetryCause>> PossibleRetries();

}  // namespace orchestrator::metrics

#endif  // ONCHAIN_KMS_ORCHESTRATOR_METRICS_RETRY_CAUSE_H_
