#include "chain/jsonrpc/errors.h"

#include <string>

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "chain/hex.h"

namespace chain::jsonrpc {
namespace {

namespace json = boost::json;

constexpr char kRpcErrorPayload[] = "type.onchain-kms/chain.jsonrpc.RpcError";
constexpr char kTransportPayload[] = "type.onchain-kms/chain.jsonrpc.Transport";

bool Has(absl::string_view lower_message, absl::string_view needle) { return absl::StrContains(lower_message, needle); }

}  // namespace

absl::string_view RpcErrorKindName(RpcErrorKind kind) {
  switch (kind) {
    case RpcErrorKind::kExecutionReverted:
      return "execution_reverted";
    case RpcErrorKind::kInsufficientFunds:
      return "insufficient_funds";
    case RpcErrorKind::kGasAllowanceExceeded:
      return "gas_allowance_exceeded";
    case RpcErrorKind::kUnderpriced:
      return "underpriced";
    case RpcErrorKind::kIntrinsicGas:
      return "intrinsic_gas";
    case RpcErrorKind::kNonceTooLow:
      return "nonce_too_low";
    case RpcErrorKind::kNonceTooHigh:
      return "nonce_too_high";
    case RpcErrorKind::kReplacementUnderpriced:
      return "replacement_underpriced";
    case RpcErrorKind::kAlreadyKnown:
      return "already_known";
    case RpcErrorKind::kInvalidTransaction:
      return "invalid_transaction";
    case RpcErrorKind::kInvalidParams:
      return "invalid_params";
    case RpcErrorKind::kMethodNotFound:
      return "method_not_found";
    case RpcErrorKind::kLimitExceeded:
      return "limit_exceeded";
    case RpcErrorKind::kNodeBehind:
      return "node_behind";
    case RpcErrorKind::kInternal:
      return "internal";
    case RpcErrorKind::kOther:
      return "other";
  }
  return "other";
}

RpcErrorKind ClassifyRpcError(int64_t code, absl::string_view message, bool has_revert_data) {
  const std::string m = absl::AsciiStrToLower(message);
  // Message first: nodes disagree on codes (anvil -32003, geth -32000) but agree on the words.
  if (code == 3 || Has(m, "execution reverted") || Has(m, "vm execution error") ||
      (has_revert_data && Has(m, "revert"))) {
    return RpcErrorKind::kExecutionReverted;
  }
  if (Has(m, "insufficient funds")) return RpcErrorKind::kInsufficientFunds;
  if (Has(m, "gas required exceeds allowance")) return RpcErrorKind::kGasAllowanceExceeded;
  if (Has(m, "already known") || Has(m, "already imported") || Has(m, "known transaction") ||
      Has(m, "already in mempool") || Has(m, "already exists")) {
    return RpcErrorKind::kAlreadyKnown;
  }
  if (Has(m, "nonce too low") || Has(m, "nonce has already been used") || Has(m, "oldnonce")) {
    return RpcErrorKind::kNonceTooLow;
  }
  if (Has(m, "nonce too high")) return RpcErrorKind::kNonceTooHigh;
  if (Has(m, "replacement transaction underpriced") || Has(m, "replacement fee too low") ||
      Has(m, "replacement underpriced")) {
    return RpcErrorKind::kReplacementUnderpriced;
  }
  if (Has(m, "higher than max fee") || Has(m, "tip higher than fee cap") || Has(m, "invalid chain id") ||
      Has(m, "chain id mismatch") || Has(m, "invalid sender") || Has(m, "invalid signature") || Has(m, "rlp")) {
    return RpcErrorKind::kInvalidTransaction;
  }
  if (Has(m, "underpriced") || Has(m, "less than block base fee") || Has(m, "fee cap less than") ||
      Has(m, "feecap too low") || Has(m, "fee too low") || Has(m, "max fee per gas less than")) {
    return RpcErrorKind::kUnderpriced;
  }
  if (Has(m, "intrinsic gas too low") || Has(m, "exceeds block gas limit") || Has(m, "gas limit reached")) {
    return RpcErrorKind::kIntrinsicGas;
  }
  if (code == -32005 || Has(m, "rate limit") || Has(m, "too many requests") || Has(m, "txpool is full") ||
      Has(m, "transaction pool is full") || Has(m, "limit exceeded") || Has(m, "capacity exceeded")) {
    return RpcErrorKind::kLimitExceeded;
  }
  if (Has(m, "header not found") || Has(m, "missing trie node") || Has(m, "unknown block") ||
      Has(m, "block not found")) {
    return RpcErrorKind::kNodeBehind;
  }
  switch (code) {
    case -32601:
      return RpcErrorKind::kMethodNotFound;
    case -32602:
    case -32600:
      return RpcErrorKind::kInvalidParams;
    case -32603:
    case -32700:
      return RpcErrorKind::kInternal;
    default:
      return RpcErrorKind::kOther;
  }
}

absl::StatusCode StatusCodeFor(RpcErrorKind kind) {
  switch (kind) {
    case RpcErrorKind::kExecutionReverted:
    case RpcErrorKind::kInsufficientFunds:
    case RpcErrorKind::kGasAllowanceExceeded:
    case RpcErrorKind::kUnderpriced:
    case RpcErrorKind::kIntrinsicGas:
      return absl::StatusCode::kFailedPrecondition;
    case RpcErrorKind::kNonceTooLow:
    case RpcErrorKind::kNonceTooHigh:
    case RpcErrorKind::kReplacementUnderpriced:
      return absl::StatusCode::kAborted;
    case RpcErrorKind::kAlreadyKnown:
      return absl::StatusCode::kAlreadyExists;
    case RpcErrorKind::kInvalidTransaction:
    case RpcErrorKind::kInvalidParams:
      return absl::StatusCode::kInvalidArgument;
    case RpcErrorKind::kMethodNotFound:
      return absl::StatusCode::kUnimplemented;
    case RpcErrorKind::kLimitExceeded:
      return absl::StatusCode::kResourceExhausted;
    case RpcErrorKind::kNodeBehind:
      return absl::StatusCode::kUnavailable;
    case RpcErrorKind::kInternal:
      return absl::StatusCode::kInternal;
    case RpcErrorKind::kOther:
      return absl::StatusCode::kUnknown;
  }
  return absl::StatusCode::kUnknown;
}

std::string DescribeRevert(const RpcError& error) {
  if (!error.revert_data.has_value()) return "empty revert data";
  return abi::DecodeRevert(*error.revert_data).text;
}

absl::Status ToStatus(const RpcError& error, absl::string_view method) {
  std::string text;
  if (error.kind == RpcErrorKind::kExecutionReverted) {
    text = absl::StrCat("execution reverted: ", DescribeRevert(error));
  } else {
    text = error.message;
  }
  absl::Status status(StatusCodeFor(error.kind), absl::StrCat(method, ": ", text, " [json-rpc ", error.code, "]"));
  json::object o;
  o["code"] = error.code;
  o["message"] = error.message;
  o["data"] = error.data_json;
  o["kind"] = static_cast<int>(error.kind);
  if (error.revert_data.has_value()) o["revert"] = ToHex(*error.revert_data);
  status.SetPayload(kRpcErrorPayload, absl::Cord(json::serialize(o)));
  return status;
}

std::optional<RpcError> GetRpcError(const absl::Status& status) {
  auto payload = status.GetPayload(kRpcErrorPayload);
  if (!payload.has_value()) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(std::string(*payload), ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.as_object();
  RpcError e;
  if (const json::value* c = o.if_contains("code"); c != nullptr && c->is_int64()) e.code = c->as_int64();
  if (const json::value* m = o.if_contains("message"); m != nullptr && m->is_string()) {
    e.message = std::string(m->as_string());
  }
  if (const json::value* d = o.if_contains("data"); d != nullptr && d->is_string()) {
    e.data_json = std::string(d->as_string());
  }
  if (const json::value* k = o.if_contains("kind"); k != nullptr && k->is_int64()) {
    e.kind = static_cast<RpcErrorKind>(k->as_int64());
  }
  if (const json::value* r = o.if_contains("revert"); r != nullptr && r->is_string()) {
    absl::StatusOr<Bytes> b = FromHex(std::string(r->as_string()));
    if (b.ok()) e.revert_data = *std::move(b);
  }
  return e;
}

std::optional<RpcErrorKind> GetRpcErrorKind(const absl::Status& status) {
  std::optional<RpcError> e = GetRpcError(status);
  if (!e.has_value()) return std::nullopt;
  return e->kind;
}

absl::Status TransportError(absl::StatusCode code, absl::string_view message, const TransportDetail& detail) {
  absl::Status status(code, message);
  json::object o;
  o["maybe_sent"] = detail.maybe_sent;
  o["endpoint"] = detail.endpoint;
  status.SetPayload(kTransportPayload, absl::Cord(json::serialize(o)));
  return status;
}

std::optional<TransportDetail> GetTransportDetail(const absl::Status& status) {
  auto payload = status.GetPayload(kTransportPayload);
  if (!payload.has_value()) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(std::string(*payload), ec);
  if (ec || !v.is_object()) return std::nullopt;
  TransportDetail d;
  const json::object& o = v.as_object();
  if (const json::value* s = o.if_contains("maybe_sent"); s != nullptr && s->is_bool()) {
    d.maybe_sent = s->as_bool();
  }
  if (const json::value* e = o.if_contains("endpoint"); e != nullptr && e->is_string()) {
    d.endpoint = std::string(e->as_string());
  }
  return d;
}

bool IsRetryable(const absl::Status& status) {
  if (GetTransportDetail(status).has_value()) return true;
  std::optional<RpcErrorKind> kind = GetRpcErrorKind(status);
  return kind.has_value() && (*kind == RpcErrorKind::kLimitExceeded || *kind == RpcErrorKind::kNodeBehind);
}

}  // namespace chain::jsonrpc
