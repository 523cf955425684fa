#include "orchestrator/metrics/retry_cause.h"

#include <optional>

#include "chain/jsonrpc/errors.h"
#include "cloudapi/api_error.h"
#include "orchestrator/signer_client/signer_client.h"

namespace orchestrator::metrics {
namespace {

RetryCause FromHttpStatus(int status) {
  if (status == 429) return RetryCause::kHttp429;
  if (status >= 500) return RetryCause::kHttp5xx;
  return RetryCause::kHttp4xx;
}

// No answer came: a timeout or a connection failure.
RetryCause NoAnswer(const absl::Status& error) {
  return absl::IsDeadlineExceeded(error) ? RetryCause::kTimeout : RetryCause::kConnection;
}

}  // namespace

absl::string_view LayerName(RetryLayer layer) {
  switch (layer) {
    case RetryLayer::kPhalaCloud:
      return "phala_cloud";
    case RetryLayer::kJsonRpc:
      return "json_rpc";
    case RetryLayer::kJournal:
      return "journal";
    case RetryLayer::kStep:
      return "step";
  }
  return "step";
}

absl::string_view CauseName(RetryCause cause) {
  switch (cause) {
    case RetryCause::kHttp429:
      return "http_429";
    case RetryCause::kHttp5xx:
      return "http_5xx";
    case RetryCause::kHttp4xx:
      return "http_4xx";
    case RetryCause::kTimeout:
      return "timeout";
    case RetryCause::kConnection:
      return "connection";
    case RetryCause::kRpcError:
      return "rpc_error";
    case RetryCause::kSignerUnavailable:
      return "signer_unavailable";
    case RetryCause::kJournalBusy:
      return "journal_busy";
    case RetryCause::kOther:
      return "other";
  }
  return "other";
}

RetryCause CloudRetryCause(const cloudapi::CallEvent& event) {
  if (event.http_status != 0) return FromHttpStatus(event.http_status);
  return NoAnswer(event.error);
}

RetryCause RpcRetryCause(const absl::Status& error) {
  if (chain::jsonrpc::GetRpcError(error).has_value()) return RetryCause::kRpcError;
  // The transport maps HTTP 429 to RESOURCE_EXHAUSTED (errors.h); everything else without a
  // JSON-RPC answer is UNAVAILABLE.
  if (absl::IsResourceExhausted(error)) return RetryCause::kHttp429;
  return NoAnswer(error);
}

RetryCause StepRetryCause(const absl::Status& error) {
  if (FromSigner(error)) return RetryCause::kSignerUnavailable;
  if (std::optional<cloudapi::ApiErrorInfo> info = cloudapi::GetApiErrorInfo(error); info.has_value()) {
    return info->http_status != 0 ? FromHttpStatus(info->http_status) : NoAnswer(error);
  }
  if (chain::jsonrpc::GetRpcError(error).has_value() || chain::jsonrpc::GetTransportDetail(error).has_value()) {
    return RpcRetryCause(error);
  }
  if (absl::IsDeadlineExceeded(error) || absl::IsUnavailable(error)) return NoAnswer(error);
  return RetryCause::kOther;
}

std::vector<std::pair<RetryLayer, RetryCause>> PossibleRetries() {
  using C = RetryCause;
  std::vector<std::pair<RetryLayer, RetryCause>> out;
  for (C c : {C::kHttp429, C::kHttp5xx, C::kHttp4xx, C::kTimeout, C::kConnection}) {
    out.emplace_back(RetryLayer::kPhalaCloud, c);
  }
  for (C c : {C::kHttp429, C::kRpcError, C::kTimeout, C::kConnection}) out.emplace_back(RetryLayer::kJsonRpc, c);
  out.emplace_back(RetryLayer::kJournal, C::kJournalBusy);
  for (C c : {C::kHttp429, C::kHttp5xx, C::kHttp4xx, C::kTimeout, C::kConnection, C::kRpcError, C::kSignerUnavailable,
              C::kOther}) {
    out.emplace_back(RetryLayer::kStep, c);
  }
  return out;
}

}  // namespace orchestrator::metrics
