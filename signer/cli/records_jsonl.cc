#include "signer/cli/records_jsonl.h"

#include <optional>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "chain/hex.h"
#include "platform/status_macros.h"

namespace signer::cli {
namespace {

using equivocation::NonceUse;
using equivocation::Record;
using equivocation::Watermark;

constexpr char kTimeFormat[] = "%Y-%m-%d%ET%H:%M:%E6SZ";
constexpr char kTimeParse[] = "%Y-%m-%d%ET%H:%M:%E*SZ";

std::string Str(uint64_t v) { return absl::StrCat(v); }

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// The fields of one parsed line, each read as the type it must have.
class Fields {
 public:
  explicit Fields(const boost::json::object& o) : o_(o) {}

  absl::StatusOr<std::string> Text(absl::string_view key) const {
    const boost::json::value* v = o_.if_contains(boost::json::string_view(key.data(), key.size()));
    if (v == nullptr || !v->is_string()) return Bad(key, "missing or not a string");
    return std::string(v->as_string().c_str(), v->as_string().size());
  }
  absl::StatusOr<uint64_t> Uint(absl::string_view key) const {
    ASSIGN_OR_RETURN(std::string t, Text(key));
    uint64_t v = 0;
    if (t.empty() || t[0] == '+' || t[0] == '-' || !absl::SimpleAtoi(t, &v)) return Bad(key, "not a decimal u64");
    return v;
  }
  // The string at `key` through `convert` (a StatusOr-returning parser); `what` says why not.
  template <typename Convert>
  auto Converted(absl::string_view key, Convert convert, absl::string_view what) const
      -> decltype(convert(std::string())) {
    ASSIGN_OR_RETURN(std::string t, Text(key));
    auto v = convert(t);
    if (!v.ok()) return Bad(key, what);
    return v;
  }
  absl::StatusOr<chain::U256> U256(absl::string_view key) const {
    return Converted(
        key, [](const std::string& t) { return chain::U256::FromDecimal(t); }, "not a decimal u256");
  }
  absl::StatusOr<chain::Bytes> Hex(absl::string_view key) const {
    return Converted(
        key, [](const std::string& t) { return chain::FromHex(t, chain::HexPrefix::kRequired); }, "not 0x-hex");
  }
  absl::StatusOr<chain::Hash32> Hash(absl::string_view key) const {
    ASSIGN_OR_RETURN(chain::Bytes b, Hex(key));
    absl::StatusOr<chain::Hash32> v = chain::Hash32::FromBytes(b);
    if (!v.ok()) return Bad(key, "not 32 bytes");
    return v;
  }
  absl::StatusOr<chain::Address> Address(absl::string_view key) const {
    return Converted(
        key, [](const std::string& t) { return chain::Address::Parse(t); }, "not a 0x address");
  }
  absl::StatusOr<std::optional<chain::Hash32>> OptionalHash(absl::string_view key) const {
    const boost::json::value* v = o_.if_contains(boost::json::string_view(key.data(), key.size()));
    if (v != nullptr && v->is_null()) return std::optional<chain::Hash32>();
    ASSIGN_OR_RETURN(chain::Hash32 h, Hash(key));
    return std::optional<chain::Hash32>(h);
  }
  absl::StatusOr<absl::Time> Time(absl::string_view key) const {
    ASSIGN_OR_RETURN(std::string t, Text(key));
    absl::Time out;
    std::string err;
    if (!absl::ParseTime(kTimeParse, t, absl::UTCTimeZone(), &out, &err)) return Bad(key, "not an RFC 3339 UTC time");
    return out;
  }

 private:
  const boost::json::object& o_;
};

absl::StatusOr<boost::json::object> ParseObject(absl::string_view line) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(boost::json::string_view(line.data(), line.size()), ec);
  if (ec || !v.is_object()) return absl::InvalidArgumentError("not a JSON object");
  return std::move(v.as_object());
}

absl::StatusOr<Record> ParseSignature(const Fields& f) {
  Record r;
  ASSIGN_OR_RETURN(r.key.chain_id, f.Uint("chain_id"));
  ASSIGN_OR_RETURN(r.key.sender, f.Address("sender"));
  ASSIGN_OR_RETURN(r.key.nonce, f.Uint("nonce"));
  ASSIGN_OR_RETURN(uint64_t version, f.Uint("slot_version"));
  if (version < 1 || version > UINT32_MAX) return Bad("slot_version", "out of range");
  r.slot_version = static_cast<uint32_t>(version);
  ASSIGN_OR_RETURN(std::string use, f.Text("nonce_use"));
  if (use != "FIRST" && use != "FEE_BUMP") return Bad("nonce_use", "must be FIRST or FEE_BUMP");
  r.nonce_use = use == "FIRST" ? NonceUse::kFirst : NonceUse::kFeeBump;
  ASSIGN_OR_RETURN(r.signing_hash, f.Hash("signing_hash"));
  ASSIGN_OR_RETURN(r.to, f.Address("to"));
  ASSIGN_OR_RETURN(r.value, f.U256("value"));
  ASSIGN_OR_RETURN(r.data, f.Hex("data"));
  ASSIGN_OR_RETURN(r.gas_limit, f.Uint("gas_limit"));
  ASSIGN_OR_RETURN(r.max_fee_per_gas, f.U256("max_fee_per_gas"));
  ASSIGN_OR_RETURN(r.max_priority_fee_per_gas, f.U256("max_priority_fee_per_gas"));
  ASSIGN_OR_RETURN(r.raw, f.Hex("raw_tx"));
  ASSIGN_OR_RETURN(r.tx_hash, f.Hash("tx_hash"));
  ASSIGN_OR_RETURN(r.replaced_tx_hash, f.OptionalHash("replaced_tx_hash"));
  ASSIGN_OR_RETURN(r.budget_charge, f.U256("budget_charge"));
  ASSIGN_OR_RETURN(r.signed_at, f.Time("signed_at"));
  return r;
}

}  // namespace

std::string HeaderLine(absl::string_view source, absl::Time exported_at) {
  boost::json::object o;
  o["format"] = kRecordsFormat;
  o["format_version"] = kRecordsFormatVersion;
  o["exported_at"] = absl::FormatTime(kTimeFormat, exported_at, absl::UTCTimeZone());
  o["source"] = std::string(source);
  return boost::json::serialize(o);
}

std::string SignatureLine(const Record& r) {
  boost::json::object o;
  o["type"] = "signature";
  o["chain_id"] = Str(r.key.chain_id);
  o["sender"] = r.key.sender.Checksummed();
  o["nonce"] = Str(r.key.nonce);
  o["slot_version"] = Str(r.slot_version);
  o["nonce_use"] = r.nonce_use == NonceUse::kFirst ? "FIRST" : "FEE_BUMP";
  o["signing_hash"] = r.signing_hash.Hex();
  o["to"] = r.to.Checksummed();
  o["value"] = r.value.ToDecimal();
  o["data"] = chain::ToHex(r.data);
  o["gas_limit"] = Str(r.gas_limit);
  o["max_fee_per_gas"] = r.max_fee_per_gas.ToDecimal();
  o["max_priority_fee_per_gas"] = r.max_priority_fee_per_gas.ToDecimal();
  o["raw_tx"] = chain::ToHex(r.raw);
  o["tx_hash"] = r.tx_hash.Hex();
  if (r.replaced_tx_hash.has_value()) {
    o["replaced_tx_hash"] = r.replaced_tx_hash->Hex();
  } else {
    o["replaced_tx_hash"] = nullptr;
  }
  o["budget_charge"] = r.budget_charge.ToDecimal();
  o["signed_at"] = absl::FormatTime(kTimeFormat, r.signed_at, absl::UTCTimeZone());
  return boost::json::serialize(o);
}

std::string WatermarkLine(const Watermark& w) {
  boost::json::object o;
  o["type"] = "watermark";
  o["chain_id"] = Str(w.chain_id);
  o["sender"] = w.sender.Checksummed();
  o["pruned_below"] = Str(w.pruned_below);
  return boost::json::serialize(o);
}

absl::Status ParseHeader(absl::string_view line) {
  ASSIGN_OR_RETURN(boost::json::object o, ParseObject(line));
  Fields f(o);
  ASSIGN_OR_RETURN(std::string format, f.Text("format"));
  if (format != kRecordsFormat) return Bad("format", absl::StrCat("must be ", kRecordsFormat));
  ASSIGN_OR_RETURN(std::string version, f.Text("format_version"));
  if (version != kRecordsFormatVersion) {
    return Bad("format_version",
               absl::StrCat(version, " is not supported (this signer reads ", kRecordsFormatVersion, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::variant<Record, Watermark>> ParseLine(absl::string_view line) {
  ASSIGN_OR_RETURN(boost::json::object o, ParseObject(line));
  Fields f(o);
  ASSIGN_OR_RETURN(std::string type, f.Text("type"));
  if (type == "signature") {
    ASSIGN_OR_RETURN(Record r, ParseSignature(f));
    return r;
  }
  if (type != "watermark") return Bad("type", "must be signature or watermark");
  Watermark w;
  ASSIGN_OR_RETURN(w.chain_id, f.Uint("chain_id"));
  ASSIGN_OR_RETURN(w.sender, f.Address("sender"));
  ASSIGN_OR_RETURN(w.pruned_below, f.Uint("pruned_below"));
  return w;
}

}  // namespace signer::cli
