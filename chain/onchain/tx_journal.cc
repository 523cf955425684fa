#include "chain/onchain/tx_journal.h"

#include <utility>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "chain/hex.h"
#include "chain/transaction.h"

namespace chain::onchain {
namespace {

namespace json = boost::json;

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(absl::StrCat("tx journal: ", what)); }

}  // namespace

std::string TxJournal::Serialize() const {
  json::array raws;
  for (const SignedTx& v : versions) raws.push_back(json::string(ToHex(v.raw)));
  json::object o;
  o["v"] = 1;
  o["raw"] = std::move(raws);
  return json::serialize(o);
}

absl::StatusOr<TxJournal> TxJournal::Parse(absl::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) return Bad("not a JSON object");
  const json::value* version = v.as_object().if_contains("v");
  if (version == nullptr || !version->is_int64() || version->as_int64() != 1) return Bad("unknown version");
  const json::value* raw = v.as_object().if_contains("raw");
  if (raw == nullptr || !raw->is_array()) return Bad("raw: want an array");
  std::vector<Bytes> raws;
  for (const json::value& r : raw->as_array()) {
    if (!r.is_string()) return Bad("raw: want hex strings");
    absl::StatusOr<Bytes> b = FromHex(std::string(r.as_string()), HexPrefix::kRequired);
    if (!b.ok()) return Bad(b.status().message());
    raws.push_back(*std::move(b));
  }
  return FromVersions(std::move(raws));
}

absl::StatusOr<TxJournal> TxJournal::FromVersions(std::vector<Bytes> raws) {
  if (raws.empty()) return Bad("no transactions");
  TxJournal j;
  for (size_t i = 0; i < raws.size(); ++i) {
    absl::StatusOr<SignedEip1559Transaction> d = DecodeSignedEip1559(raws[i]);
    if (!d.ok()) return Bad(absl::StrCat("raw[", i, "]: ", d.status().message()));
    absl::StatusOr<Address> from = d->Sender();
    if (!from.ok()) return Bad(absl::StrCat("raw[", i, "]: ", from.status().message()));
    const Eip1559Transaction& t = d->tx;
    if (!t.to.has_value()) return Bad(absl::StrCat("raw[", i, "]: contract creation"));
    if (!t.value.IsZero()) return Bad(absl::StrCat("raw[", i, "]: non-zero value"));
    SignedTx s;
    s.raw = raws[i];
    s.hash = TxHash(raws[i]);
    s.from = *from;
    s.chain_id = t.chain_id;
    s.nonce = t.nonce;
    s.to = *t.to;
    s.data = t.data;
    s.gas_limit = t.gas_limit;
    s.max_fee_per_gas = t.max_fee_per_gas;
    s.max_priority_fee_per_gas = t.max_priority_fee_per_gas;
    s.nonce_use = i == 0 ? NonceUse::kFirst : NonceUse::kFeeBump;
    if (i > 0) s.replaced_transaction_hash = j.versions.back().hash;
    if (i == 0) {
      j.chain_id = s.chain_id;
      j.from = s.from;
      j.nonce = s.nonce;
      absl::StatusOr<TxIntent> intent = TxIntent::FromCall(s.to, s.data);
      if (!intent.ok())
        return Bad("raw[0]: calldata is none of the intents (deployAndRegisterApp, addComposeHash, app calls)");
      j.intent = *std::move(intent);
    } else if (s.chain_id != j.chain_id || s.from != j.from || s.nonce != j.nonce || s.to != j.intent.to ||
               s.data != j.versions[0].data) {
      return Bad(
          absl::StrCat("raw[", i, "]: not a replacement of raw[0] (chain, sender, nonce, to and data must match)"));
    }
    j.versions.push_back(std::move(s));
  }
  return j;
}

}  // namespace chain::onchain
