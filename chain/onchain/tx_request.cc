#include "chain/onchain/tx_request.h"

#include <algorithm>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "chain/dstack_calls.h"
#include "chain/hex.h"

namespace chain::onchain {
namespace {

namespace json = boost::json;

std::string Str(const json::object& o, const char* key) {
  const json::value* x = o.if_contains(key);
  return x != nullptr && x->is_string() ? std::string(x->as_string()) : std::string();
}

uint64_t Num(const json::object& o, const char* key) {
  const json::value* x = o.if_contains(key);
  if (x == nullptr) return 0;
  if (x->is_uint64()) return x->as_uint64();
  if (x->is_int64()) return static_cast<uint64_t>(x->as_int64());
  return 0;
}

}  // namespace

std::string EncodeTxRequest(const TxRequest& request) {
  const TxEnvelope& e = request.envelope;
  json::object o;
  o["v"] = 1;
  o["request_id"] = e.request_id;
  o["chain_id"] = e.chain_id;
  o["from"] = e.from.Checksummed();
  o["nonce"] = e.nonce;
  o["gas_limit"] = e.gas_limit;
  o["max_fee_per_gas"] = e.max_fee_per_gas.ToDecimal();
  o["max_priority_fee_per_gas"] = e.max_priority_fee_per_gas.ToDecimal();
  o["to"] = request.intent.to.Checksummed();
  o["data"] = ToHex(request.intent.Calldata());
  return json::serialize(o);
}

absl::StatusOr<TxRequest> DecodeTxRequest(absl::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) return absl::InvalidArgumentError("signing request: malformed");
  const json::object& o = v.as_object();
  TxRequest out;
  TxEnvelope& e = out.envelope;
  e.request_id = Str(o, "request_id");
  e.chain_id = Num(o, "chain_id");
  e.nonce = Num(o, "nonce");
  e.gas_limit = Num(o, "gas_limit");
  absl::StatusOr<Address> from = Address::Parse(Str(o, "from"));
  absl::StatusOr<U256> fee = U256::FromDecimal(Str(o, "max_fee_per_gas"));
  absl::StatusOr<U256> prio = U256::FromDecimal(Str(o, "max_priority_fee_per_gas"));
  absl::StatusOr<Address> to = Address::Parse(Str(o, "to"));
  absl::StatusOr<Bytes> data = FromHex(Str(o, "data"));
  if (!from.ok() || !fee.ok() || !prio.ok() || !to.ok() || !data.ok()) {
    return absl::InvalidArgumentError("signing request: malformed fields");
  }
  e.from = *from;
  e.max_fee_per_gas = *fee;
  e.max_priority_fee_per_gas = *prio;
  absl::StatusOr<TxIntent> intent = TxIntent::FromCall(*to, *data);
  if (!intent.ok()) return absl::InvalidArgumentError("signing request: holds an unknown call");
  out.intent = *std::move(intent);
  return out;
}

std::string RequestKey(const U256& max_fee_per_gas, const U256& max_priority_fee_per_gas, uint64_t gas_limit) {
  const std::string fee = max_fee_per_gas.ToDecimal();
  return absl::StrCat(std::string(78 - std::min<size_t>(78, fee.size()), '0'), fee, "/",
                      max_priority_fee_per_gas.ToDecimal(), "/", gas_limit);
}

bool IsDefinitiveRefusal(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kFailedPrecondition:
      return true;
    default:
      return false;
  }
}

}  // namespace chain::onchain
