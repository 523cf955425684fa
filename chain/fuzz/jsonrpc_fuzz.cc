// A JSON-RPC node's answer body, read as chain/jsonrpc's client reads it: Boost.JSON parse, then
// the result-or-error split and every typed result reader (receipts, logs, transactions, fee
// history, block headers, quantities, hashes, addresses). A batch answer is an array of these.
#include <cstddef>
#include <cstdint>

#include <boost/json.hpp>

#include "chain/jsonrpc/json_codec.h"

namespace {

void ReadResult(const boost::json::value& v) {
  (void)chain::jsonrpc::ParseUint64(v, "q");
  (void)chain::jsonrpc::ParseU256(v, "q");
  (void)chain::jsonrpc::ParseBytes(v, "b");
  (void)chain::jsonrpc::ParseHash(v, "h");
  (void)chain::jsonrpc::ParseAddress(v, "a");
  (void)chain::jsonrpc::ParseLog(v);
  (void)chain::jsonrpc::ParseReceipt(v);
  (void)chain::jsonrpc::ParseTransaction(v);
  (void)chain::jsonrpc::ParseFeeHistory(v);
  (void)chain::jsonrpc::ParseBlockHeader(v);
  if (v.is_array()) {
    for (const boost::json::value& item : v.as_array()) (void)chain::jsonrpc::ParseLog(item);
  }
}

void ReadResponse(const boost::json::value& v) {
  if (!v.is_object()) return;
  const boost::json::object& o = v.as_object();
  if (const boost::json::value* error = o.if_contains("error")) (void)chain::jsonrpc::ParseRpcError(*error);
  absl::StatusOr<boost::json::value> result = chain::jsonrpc::ResultOrError(o, "eth_call");
  if (result.ok()) ReadResult(*result);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  boost::system::error_code ec;
  const boost::json::value v =
      boost::json::parse(boost::json::string_view(reinterpret_cast<const char*>(data), size), ec);
  if (ec) return 0;
  ReadResponse(v);
  if (v.is_array()) {
    for (const boost::json::value& item : v.as_array()) ReadResponse(item);
  }
  return 0;
}
