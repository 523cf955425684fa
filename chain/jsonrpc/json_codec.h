// JSON <-> types.h. Strict: every quantity must be a 0x-hex string, every hash 32 bytes, every
// address 20 bytes; an error names the field ("receipt.logs[2].topics[0]: ...").
#ifndef ONCHAIN_KMS_CHAIN_JSONRPC_JSON_CODEC_H_
#define ONCHAIN_KMS_CHAIN_JSONRPC_JSON_CODEC_H_

#include <cstdint>
#include <optional>

#include <boost/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/jsonrpc/errors.h"
#include "chain/jsonrpc/types.h"

namespace chain::jsonrpc {

// ---- requests ----
boost::json::value CallRequestToJson(const CallRequest& request);
boost::json::value LogFilterToJson(const LogFilter& filter);

// ---- results ----
absl::StatusOr<uint64_t> ParseUint64(const boost::json::value& v, absl::string_view what);
absl::StatusOr<U256> ParseU256(const boost::json::value& v, absl::string_view what);
absl::StatusOr<Bytes> ParseBytes(const boost::json::value& v, absl::string_view what);
// Whether eth_getCode's answer holds any code, without decoding it (kilobytes of hex in every
// deploy's pre-check): a 0x-prefixed string of even length, checked no further.
absl::StatusOr<bool> ParseHasCode(const boost::json::value& v, absl::string_view what);
absl::StatusOr<Hash32> ParseHash(const boost::json::value& v, absl::string_view what);
absl::StatusOr<Address> ParseAddress(const boost::json::value& v, absl::string_view what);

absl::StatusOr<Log> ParseLog(const boost::json::value& v);
absl::StatusOr<Receipt> ParseReceipt(const boost::json::value& v);
absl::StatusOr<TransactionInfo> ParseTransaction(const boost::json::value& v);
absl::StatusOr<FeeHistory> ParseFeeHistory(const boost::json::value& v);
absl::StatusOr<BlockHeader> ParseBlockHeader(const boost::json::value& v);

// The "error" member of a response.
RpcError ParseRpcError(const boost::json::value& error);

// One response object of a (batch) answer: the result, or ToStatus(error, method).
// INTERNAL if it is neither.
absl::StatusOr<boost::json::value> ResultOrError(const boost::json::object& response, absl::string_view method);

}  // namespace chain::jsonrpc

#endif  // ONCHAIN_KMS_CHAIN_JSONRPC_JSON_CODEC_H_
