#include "chain/jsonrpc/json_codec.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "chain/hex.h"

namespace chain::jsonrpc {
namespace {

namespace json = boost::json;

absl::Status Field(absl::string_view what, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
}

absl::StatusOr<absl::string_view> AsString(const json::value& v, absl::string_view what) {
  if (!v.is_string()) {
    return absl::InternalError(absl::StrCat(what, ": want a string, got ", json::serialize(v).substr(0, 80)));
  }
  const json::string& s = v.as_string();
  return absl::string_view(s.data(), s.size());
}

const json::value* Get(const json::object& o, absl::string_view key) {
  return o.if_contains(json::string_view(key.data(), key.size()));
}

bool IsNull(const json::value* v) { return v == nullptr || v->is_null(); }

// Helpers for required and optional object members.
template <typename T, typename Parser>
absl::Status Required(const json::object& o, absl::string_view key, absl::string_view ctx, T& out, Parser parse) {
  const std::string what = absl::StrCat(ctx, ".", key);
  const json::value* v = Get(o, key);
  if (IsNull(v)) return absl::InternalError(absl::StrCat(what, ": missing"));
  absl::StatusOr<T> r = parse(*v, what);
  if (!r.ok()) return r.status();
  out = *std::move(r);
  return absl::OkStatus();
}

template <typename T, typename Parser>
absl::Status Optional(const json::object& o, absl::string_view key, absl::string_view ctx, std::optional<T>& out,
                      Parser parse) {
  const json::value* v = Get(o, key);
  if (IsNull(v)) {
    out.reset();
    return absl::OkStatus();
  }
  absl::StatusOr<T> r = parse(*v, absl::StrCat(ctx, ".", key));
  if (!r.ok()) return r.status();
  out = *std::move(r);
  return absl::OkStatus();
}

absl::StatusOr<const json::object*> AsObject(const json::value& v, absl::string_view what) {
  if (!v.is_object()) return absl::InternalError(absl::StrCat(what, ": want an object"));
  return &v.as_object();
}

#define RETURN_IF_ERROR_(expr) \
  do {                         \
    absl::Status s_ = (expr);  \
    if (!s_.ok()) return s_;   \
  } while (0)

absl::StatusOr<uint8_t> ParseUint8(const json::value& v, absl::string_view what) {
  absl::StatusOr<uint64_t> n = ParseUint64(v, what);
  if (!n.ok()) return n.status();
  if (*n > 0xff) return absl::InternalError(absl::StrCat(what, ": out of range"));
  return static_cast<uint8_t>(*n);
}

json::string Str(const std::string& s) { return json::string(s); }

}  // namespace

BlockId BlockId::Number(uint64_t n) { return BlockId(U256(n).ToQuantityHex()); }

// ---- requests ----

json::value CallRequestToJson(const CallRequest& r) {
  json::object o;
  if (r.from.has_value()) o["from"] = Str(r.from->Hex());
  if (r.to.has_value()) o["to"] = Str(r.to->Hex());
  // "input" is the current name, "data" the one older nodes read. Both are sent; nodes that
  // know both only reject the pair when they differ.
  o["input"] = Str(ToHex(r.data));
  o["data"] = Str(ToHex(r.data));
  if (r.value.has_value()) o["value"] = Str(r.value->ToQuantityHex());
  if (r.gas.has_value()) o["gas"] = Str(U256(*r.gas).ToQuantityHex());
  if (r.max_fee_per_gas.has_value()) o["maxFeePerGas"] = Str(r.max_fee_per_gas->ToQuantityHex());
  if (r.max_priority_fee_per_gas.has_value()) {
    o["maxPriorityFeePerGas"] = Str(r.max_priority_fee_per_gas->ToQuantityHex());
  }
  return o;
}

json::value LogFilterToJson(const LogFilter& f) {
  json::object o;
  if (f.block_hash.has_value()) {
    o["blockHash"] = Str(f.block_hash->Hex());
  } else {
    if (f.from_block.has_value()) o["fromBlock"] = Str(f.from_block->ToParam());
    if (f.to_block.has_value()) o["toBlock"] = Str(f.to_block->ToParam());
  }
  if (f.addresses.size() == 1) {
    o["address"] = Str(f.addresses[0].Hex());
  } else if (!f.addresses.empty()) {
    json::array a;
    for (const Address& x : f.addresses) a.push_back(Str(x.Hex()));
    o["address"] = std::move(a);
  }
  if (!f.topics.empty()) {
    json::array topics;
    for (const std::optional<std::vector<Hash32>>& t : f.topics) {
      if (!t.has_value()) {
        topics.push_back(nullptr);
      } else if (t->size() == 1) {
        topics.push_back(Str((*t)[0].Hex()));
      } else {
        json::array any;
        for (const Hash32& h : *t) any.push_back(Str(h.Hex()));
        topics.push_back(std::move(any));
      }
    }
    o["topics"] = std::move(topics);
  }
  return o;
}

// ---- scalars ----

absl::StatusOr<uint64_t> ParseUint64(const json::value& v, absl::string_view what) {
  absl::StatusOr<U256> u = ParseU256(v, what);
  if (!u.ok()) return u.status();
  if (!u->FitsUint64()) return absl::InternalError(absl::StrCat(what, ": does not fit in 64 bits"));
  return u->Low64();
}

absl::StatusOr<U256> ParseU256(const json::value& v, absl::string_view what) {
  absl::StatusOr<absl::string_view> s = AsString(v, what);
  if (!s.ok()) return s.status();
  absl::StatusOr<U256> u = U256::FromHex(*s);
  if (!u.ok()) return Field(what, absl::InternalError(u.status().message()));
  return u;
}

absl::StatusOr<Bytes> ParseBytes(const json::value& v, absl::string_view what) {
  absl::StatusOr<absl::string_view> s = AsString(v, what);
  if (!s.ok()) return s.status();
  absl::StatusOr<Bytes> b = FromHex(*s, HexPrefix::kRequired);
  if (!b.ok()) return Field(what, absl::InternalError(b.status().message()));
  return b;
}

absl::StatusOr<bool> ParseHasCode(const json::value& v, absl::string_view what) {
  absl::StatusOr<absl::string_view> s = AsString(v, what);
  if (!s.ok()) return s.status();
  if (!absl::StartsWith(*s, "0x") || s->size() % 2 != 0) {
    return Field(what, absl::InternalError("expected 0x-prefixed hex of whole bytes"));
  }
  return s->size() > 2;
}

absl::StatusOr<Hash32> ParseHash(const json::value& v, absl::string_view what) {
  absl::StatusOr<absl::string_view> s = AsString(v, what);
  if (!s.ok()) return s.status();
  absl::StatusOr<Hash32> h = Hash32::FromHex(*s);
  if (!h.ok()) return Field(what, absl::InternalError(h.status().message()));
  return h;
}

absl::StatusOr<Address> ParseAddress(const json::value& v, absl::string_view what) {
  absl::StatusOr<absl::string_view> s = AsString(v, what);
  if (!s.ok()) return s.status();
  absl::StatusOr<Address> a = Address::Parse(*s);
  if (!a.ok()) return Field(what, absl::InternalError(a.status().message()));
  return a;
}

// ---- objects ----

namespace {

absl::StatusOr<Log> ParseLogAt(const json::value& v, absl::string_view ctx) {
  absl::StatusOr<const json::object*> o = AsObject(v, ctx);
  if (!o.ok()) return o.status();
  Log log;
  RETURN_IF_ERROR_(Required(**o, "address", ctx, log.address, ParseAddress));
  RETURN_IF_ERROR_(Required(**o, "data", ctx, log.data, ParseBytes));
  const json::value* topics = Get(**o, "topics");
  if (topics == nullptr || !topics->is_array()) {
    return absl::InternalError(absl::StrCat(ctx, ".topics: want an array"));
  }
  for (size_t i = 0; i < topics->as_array().size(); ++i) {
    absl::StatusOr<Hash32> t = ParseHash(topics->as_array()[i], absl::StrCat(ctx, ".topics[", i, "]"));
    if (!t.ok()) return t.status();
    log.topics.push_back(*t);
  }
  // Pending logs have null block fields; we only read mined ones, but tolerate them.
  std::optional<uint64_t> bn, ti, li;
  std::optional<Hash32> bh, th;
  RETURN_IF_ERROR_(Optional(**o, "blockNumber", ctx, bn, ParseUint64));
  RETURN_IF_ERROR_(Optional(**o, "blockHash", ctx, bh, ParseHash));
  RETURN_IF_ERROR_(Optional(**o, "transactionHash", ctx, th, ParseHash));
  RETURN_IF_ERROR_(Optional(**o, "transactionIndex", ctx, ti, ParseUint64));
  RETURN_IF_ERROR_(Optional(**o, "logIndex", ctx, li, ParseUint64));
  log.block_number = bn.value_or(0);
  log.block_hash = bh.value_or(Hash32());
  log.transaction_hash = th.value_or(Hash32());
  log.transaction_index = ti.value_or(0);
  log.log_index = li.value_or(0);
  if (const json::value* r = Get(**o, "removed"); r != nullptr && r->is_bool()) log.removed = r->as_bool();
  return log;
}

}  // namespace

absl::StatusOr<Log> ParseLog(const json::value& v) { return ParseLogAt(v, "log"); }

absl::StatusOr<Receipt> ParseReceipt(const json::value& v) {
  constexpr absl::string_view ctx = "receipt";
  absl::StatusOr<const json::object*> po = AsObject(v, ctx);
  if (!po.ok()) return po.status();
  const json::object& o = **po;
  Receipt r;
  RETURN_IF_ERROR_(Required(o, "transactionHash", ctx, r.transaction_hash, ParseHash));
  RETURN_IF_ERROR_(Required(o, "transactionIndex", ctx, r.transaction_index, ParseUint64));
  RETURN_IF_ERROR_(Required(o, "blockHash", ctx, r.block_hash, ParseHash));
  RETURN_IF_ERROR_(Required(o, "blockNumber", ctx, r.block_number, ParseUint64));
  RETURN_IF_ERROR_(Required(o, "from", ctx, r.from, ParseAddress));
  RETURN_IF_ERROR_(Optional(o, "to", ctx, r.to, ParseAddress));
  RETURN_IF_ERROR_(Optional(o, "contractAddress", ctx, r.contract_address, ParseAddress));
  RETURN_IF_ERROR_(Required(o, "gasUsed", ctx, r.gas_used, ParseUint64));
  RETURN_IF_ERROR_(Required(o, "cumulativeGasUsed", ctx, r.cumulative_gas_used, ParseUint64));
  RETURN_IF_ERROR_(Optional(o, "effectiveGasPrice", ctx, r.effective_gas_price, ParseU256));
  uint64_t status = 0;
  RETURN_IF_ERROR_(Required(o, "status", ctx, status, ParseUint64));
  if (status > 1) return absl::InternalError(absl::StrCat("receipt.status: want 0x0 or 0x1, got ", status));
  r.success = status == 1;
  std::optional<uint8_t> type;
  RETURN_IF_ERROR_(Optional(o, "type", ctx, type, ParseUint8));
  r.type = type.value_or(0);
  const json::value* logs = Get(o, "logs");
  if (logs == nullptr || !logs->is_array()) return absl::InternalError("receipt.logs: want an array");
  for (size_t i = 0; i < logs->as_array().size(); ++i) {
    absl::StatusOr<Log> l = ParseLogAt(logs->as_array()[i], absl::StrCat("receipt.logs[", i, "]"));
    if (!l.ok()) return l.status();
    r.logs.push_back(*std::move(l));
  }
  return r;
}

absl::StatusOr<TransactionInfo> ParseTransaction(const json::value& v) {
  constexpr absl::string_view ctx = "transaction";
  absl::StatusOr<const json::object*> po = AsObject(v, ctx);
  if (!po.ok()) return po.status();
  const json::object& o = **po;
  TransactionInfo t;
  RETURN_IF_ERROR_(Required(o, "hash", ctx, t.hash, ParseHash));
  RETURN_IF_ERROR_(Required(o, "from", ctx, t.from, ParseAddress));
  RETURN_IF_ERROR_(Optional(o, "to", ctx, t.to, ParseAddress));
  RETURN_IF_ERROR_(Required(o, "nonce", ctx, t.nonce, ParseUint64));
  RETURN_IF_ERROR_(Required(o, "gas", ctx, t.gas, ParseUint64));
  RETURN_IF_ERROR_(Required(o, "value", ctx, t.value, ParseU256));
  RETURN_IF_ERROR_(Required(o, "input", ctx, t.input, ParseBytes));
  std::optional<uint8_t> type;
  RETURN_IF_ERROR_(Optional(o, "type", ctx, type, ParseUint8));
  t.type = type.value_or(0);
  RETURN_IF_ERROR_(Optional(o, "chainId", ctx, t.chain_id, ParseUint64));
  RETURN_IF_ERROR_(Optional(o, "gasPrice", ctx, t.gas_price, ParseU256));
  RETURN_IF_ERROR_(Optional(o, "maxFeePerGas", ctx, t.max_fee_per_gas, ParseU256));
  RETURN_IF_ERROR_(Optional(o, "maxPriorityFeePerGas", ctx, t.max_priority_fee_per_gas, ParseU256));
  RETURN_IF_ERROR_(Optional(o, "blockNumber", ctx, t.block_number, ParseUint64));
  RETURN_IF_ERROR_(Optional(o, "blockHash", ctx, t.block_hash, ParseHash));
  return t;
}

absl::StatusOr<FeeHistory> ParseFeeHistory(const json::value& v) {
  constexpr absl::string_view ctx = "feeHistory";
  absl::StatusOr<const json::object*> po = AsObject(v, ctx);
  if (!po.ok()) return po.status();
  const json::object& o = **po;
  FeeHistory h;
  RETURN_IF_ERROR_(Required(o, "oldestBlock", ctx, h.oldest_block, ParseUint64));
  const json::value* base = Get(o, "baseFeePerGas");
  if (base == nullptr || !base->is_array()) return absl::InternalError("feeHistory.baseFeePerGas: want an array");
  for (size_t i = 0; i < base->as_array().size(); ++i) {
    absl::StatusOr<U256> b = ParseU256(base->as_array()[i], absl::StrCat("feeHistory.baseFeePerGas[", i, "]"));
    if (!b.ok()) return b.status();
    h.base_fee_per_gas.push_back(*b);
  }
  if (const json::value* ratio = Get(o, "gasUsedRatio"); ratio != nullptr && ratio->is_array()) {
    for (const json::value& r : ratio->as_array()) {
      h.gas_used_ratio.push_back(r.is_number() ? r.to_number<double>() : 0.0);
    }
  }
  if (const json::value* reward = Get(o, "reward"); reward != nullptr && reward->is_array()) {
    for (size_t i = 0; i < reward->as_array().size(); ++i) {
      const json::value& row = reward->as_array()[i];
      if (!row.is_array()) return absl::InternalError(absl::StrCat("feeHistory.reward[", i, "]: want an array"));
      std::vector<U256> values;
      for (size_t j = 0; j < row.as_array().size(); ++j) {
        absl::StatusOr<U256> x = ParseU256(row.as_array()[j], absl::StrCat("feeHistory.reward[", i, "][", j, "]"));
        if (!x.ok()) return x.status();
        values.push_back(*x);
      }
      h.reward.push_back(std::move(values));
    }
  }
  return h;
}

absl::StatusOr<BlockHeader> ParseBlockHeader(const json::value& v) {
  constexpr absl::string_view ctx = "block";
  absl::StatusOr<const json::object*> po = AsObject(v, ctx);
  if (!po.ok()) return po.status();
  const json::object& o = **po;
  BlockHeader b;
  RETURN_IF_ERROR_(Required(o, "number", ctx, b.number, ParseUint64));
  RETURN_IF_ERROR_(Required(o, "hash", ctx, b.hash, ParseHash));
  RETURN_IF_ERROR_(Required(o, "parentHash", ctx, b.parent_hash, ParseHash));
  RETURN_IF_ERROR_(Required(o, "timestamp", ctx, b.timestamp, ParseUint64));
  RETURN_IF_ERROR_(Required(o, "gasLimit", ctx, b.gas_limit, ParseUint64));
  RETURN_IF_ERROR_(Required(o, "gasUsed", ctx, b.gas_used, ParseUint64));
  RETURN_IF_ERROR_(Optional(o, "baseFeePerGas", ctx, b.base_fee_per_gas, ParseU256));
  return b;
}

// ---- errors ----

RpcError ParseRpcError(const json::value& error) {
  RpcError e;
  if (!error.is_object()) {
    e.message = json::serialize(error);
    e.kind = RpcErrorKind::kOther;
    return e;
  }
  const json::object& o = error.as_object();
  if (const json::value* c = Get(o, "code"); c != nullptr) {
    if (c->is_int64()) {
      e.code = c->as_int64();
    } else if (c->is_uint64()) {
      e.code = static_cast<int64_t>(c->as_uint64());
    } else if (c->is_double()) {
      // Only an integral double within int64 is a code (casting -inf or 1e19 is undefined).
      const double d = c->as_double();
      if (d == std::trunc(d) && d >= -0x1p63 && d < 0x1p63) e.code = static_cast<int64_t>(d);
    }
  }
  if (const json::value* m = Get(o, "message"); m != nullptr && m->is_string()) {
    e.message = std::string(m->as_string());
  }
  if (const json::value* d = Get(o, "data"); d != nullptr && !d->is_null()) {
    e.data_json = json::serialize(*d);
    // Revert data: a hex string, or an object with a hex "data" member (some providers nest it).
    const json::value* hex = d;
    if (d->is_object()) hex = Get(d->as_object(), "data");
    if (hex != nullptr && hex->is_string()) {
      absl::StatusOr<Bytes> b = FromHex(std::string(hex->as_string()), HexPrefix::kRequired);
      if (b.ok()) e.revert_data = *std::move(b);
    }
  }
  e.kind = ClassifyRpcError(e.code, e.message, e.revert_data.has_value());
  // Revert data only means something for reverts; keep it in data_json otherwise.
  if (e.kind != RpcErrorKind::kExecutionReverted) e.revert_data.reset();
  return e;
}

absl::StatusOr<json::value> ResultOrError(const json::object& response, absl::string_view method) {
  if (const json::value* err = Get(response, "error"); err != nullptr && !err->is_null()) {
    return ToStatus(ParseRpcError(*err), method);
  }
  const json::value* result = Get(response, "result");
  if (result == nullptr) {
    return absl::InternalError(absl::StrCat(method, ": response has neither result nor error"));
  }
  return *result;
}

}  // namespace chain::jsonrpc
