// A minimal JSON-RPC 2.0 caller over plain HTTP for the anvil harness only (one connection per
// call, a deadline per call). Internal to test/anvil: the production client lives in chain/.
#ifndef ONCHAIN_KMS_TEST_ANVIL_JSON_RPC_H_
#define ONCHAIN_KMS_TEST_ANVIL_JSON_RPC_H_

#include <cstdint>
#include <optional>
#include <string>

#include <boost/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace anvil {

// The "error" member of a JSON-RPC response, kept whole (reverts carry their data here).
struct RpcError {
  int64_t code = 0;
  std::string message;
  boost::json::value data;  // null when absent; a hex string for reverts
};

// Either a result or an error, as the server sent it.
struct RpcResponse {
  boost::json::value result;
  std::optional<RpcError> error;
};

class JsonRpcClient {
 public:
  JsonRpcClient(std::string host, uint16_t port, absl::Duration timeout = absl::Seconds(10));

  // Transport failures: Unavailable; no answer before the deadline: DeadlineExceeded;
  // malformed answer: Internal. A JSON-RPC error object is a successful RpcResponse.
  absl::StatusOr<RpcResponse> CallRaw(absl::string_view method, boost::json::array params) const;

  // As CallRaw, but a JSON-RPC error becomes FailedPrecondition with code, message and data.
  absl::StatusOr<boost::json::value> Call(absl::string_view method, boost::json::array params) const;

  void set_timeout(absl::Duration timeout) { timeout_ = timeout; }

 private:
  std::string host_;
  uint16_t port_;
  absl::Duration timeout_;
};

// "json-rpc error <code>: <message>[ data=<data>]", the text Call() puts in its status.
std::string FormatRpcError(const RpcError& error);

}  // namespace anvil

#endif  // ONCHAIN_KMS_TEST_ANVIL_JSON_RPC_H_
