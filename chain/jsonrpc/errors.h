// JSON-RPC error objects: classification, the absl::Status they become, and the structured
// details every such status carries as a payload (so callers branch on a kind, never on text).
//
// Status mapping (a JSON-RPC error answer, by kind):
//   kExecutionReverted        FAILED_PRECONDITION  code 3, or "execution reverted"; revert data
//                                                  decoded with chain/abi.h into the message
//   kInsufficientFunds        FAILED_PRECONDITION  "insufficient funds for gas * price + value"
//   kGasAllowanceExceeded     FAILED_PRECONDITION  "gas required exceeds allowance" (estimate from
//                                                  an account that cannot pay)
//   kUnderpriced              FAILED_PRECONDITION  "transaction underpriced", "max fee per gas less
//                                                  than block base fee", "fee cap too low"
//   kIntrinsicGas             FAILED_PRECONDITION  "intrinsic gas too low", "exceeds block gas limit"
//   kNonceTooLow              ABORTED              the nonce is used: maybe by this very transaction
//   kNonceTooHigh             ABORTED
//   kReplacementUnderpriced   ABORTED              another transaction holds the nonce in the pool
//   kAlreadyKnown             ALREADY_EXISTS       "already known", "transaction already imported"
//   kInvalidTransaction       INVALID_ARGUMENT     bad chain id, bad signature, tip above fee cap
//   kInvalidParams            INVALID_ARGUMENT     -32602, -32600
//   kMethodNotFound           UNIMPLEMENTED        -32601
//   kLimitExceeded            RESOURCE_EXHAUSTED   -32005, rate limits, "txpool is full" (retryable)
//   kNodeBehind               UNAVAILABLE          "header not found", "missing trie node" (retryable)
//   kInternal                 INTERNAL             -32603, -32700
//   kOther                    UNKNOWN              anything else
// Transport failures (connect, TLS, timeout, HTTP 5xx, a body that is not JSON-RPC) are
// UNAVAILABLE and carry a TransportDetail payload instead; HTTP 429 is RESOURCE_EXHAUSTED,
// 401/403 PERMISSION_DENIED. A result that does not parse as the expected type is INTERNAL.
#ifndef ONCHAIN_KMS_CHAIN_JSONRPC_ERRORS_H_
#define ONCHAIN_KMS_CHAIN_JSONRPC_ERRORS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "chain/abi.h"
#include "chain/bytes.h"

namespace chain::jsonrpc {

enum class RpcErrorKind {
  kExecutionReverted,
  kInsufficientFunds,
  kGasAllowanceExceeded,
  kUnderpriced,
  kIntrinsicGas,
  kNonceTooLow,
  kNonceTooHigh,
  kReplacementUnderpriced,
  kAlreadyKnown,
  kInvalidTransaction,
  kInvalidParams,
  kMethodNotFound,
  kLimitExceeded,
  kNodeBehind,
  kInternal,
  kOther,
};
absl::string_view RpcErrorKindName(RpcErrorKind kind);

// A JSON-RPC "error" member, as the node sent it, plus what we made of it.
struct RpcError {
  int64_t code = 0;
  std::string message;
  std::string data_json;             // the "data" member as compact JSON; empty when absent
  std::optional<Bytes> revert_data;  // hex revert data found in "data" (string or {data: ...})
  RpcErrorKind kind = RpcErrorKind::kOther;
};

// Classifies by code and message (case-insensitive substrings; see the table above).
RpcErrorKind ClassifyRpcError(int64_t code, absl::string_view message, bool has_revert_data);
absl::StatusCode StatusCodeFor(RpcErrorKind kind);

// Human-readable revert: chain::abi::DecodeRevert(...).text, or "empty revert data".
std::string DescribeRevert(const RpcError& error);

// "<method>: <message> [json-rpc <code>]"; for reverts the message is
// "execution reverted: <decoded revert>". Carries the RpcError as a payload.
absl::Status ToStatus(const RpcError& error, absl::string_view method);

// The RpcError a status was built from, if any.
std::optional<RpcError> GetRpcError(const absl::Status& status);
// Kind of the RpcError in `status`, if any.
std::optional<RpcErrorKind> GetRpcErrorKind(const absl::Status& status);

// Transport failures.
struct TransportDetail {
  // False only when the request certainly never reached the server (DNS, connect, TLS
  // handshake failed, or the write did not start). A send with maybe_sent=true must be
  // treated as "outcome unknown".
  bool maybe_sent = true;
  std::string endpoint;  // redacted: scheme://host:port
};
absl::Status TransportError(absl::StatusCode code, absl::string_view message, const TransportDetail& detail);
std::optional<TransportDetail> GetTransportDetail(const absl::Status& status);

// True for failures worth repeating on the same or another endpoint (reads): transport
// errors, rate limits, a lagging node.
bool IsRetryable(const absl::Status& status);

}  // namespace chain::jsonrpc

#endif  // ONCHAIN_KMS_CHAIN_JSONRPC_ERRORS_H_
