#include "chain/onchain/tx_signer.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "chain/hex.h"
#include "chain/transaction.h"

namespace chain::onchain {

TxIntent TxIntent::Deploy(const Address& kms, const DeployAndRegisterAppParams& params) {
  TxIntent i;
  i.kind = Kind::kDeployAndRegisterApp;
  i.to = kms;
  i.deploy = params;
  return i;
}

TxIntent TxIntent::AddComposeHash(const Address& app, const Hash32& hash) {
  TxIntent i;
  i.kind = Kind::kAddComposeHash;
  i.to = app;
  i.compose_hash = hash;
  return i;
}

TxIntent TxIntent::App(const Address& app, const AppCall& call) {
  TxIntent i{.kind = Kind::kAppCall, .to = app};
  i.app_call = call;
  return i;
}

absl::StatusOr<SignedTx> TxSigner::SignAppCall(const TxEnvelope&, const Address&, const AppCall& call) {
  return absl::UnimplementedError(absl::StrCat("this signer cannot sign ", AppCallSignature(call)));
}

Bytes TxIntent::Calldata() const {
  switch (kind) {
    case Kind::kDeployAndRegisterApp:
      return EncodeDeployAndRegisterApp(deploy);
    case Kind::kAddComposeHash:
      return EncodeAddComposeHash(compose_hash);
    case Kind::kAppCall:
      return EncodeAppCall(app_call);
  }
  return {};
}

absl::string_view TxIntent::Name() const {
  switch (kind) {
    case Kind::kDeployAndRegisterApp:
      return "deployAndRegisterApp";
    case Kind::kAddComposeHash:
      return "addComposeHash";
    case Kind::kAppCall:
      return AppCallSignature(app_call);
  }
  return "";
}

absl::StatusOr<SignedTx> TxIntent::SignWith(TxSigner& signer, const TxEnvelope& envelope) const {
  switch (kind) {
    case Kind::kDeployAndRegisterApp:
      return signer.SignDeployAndRegisterApp(envelope, to, deploy);
    case Kind::kAddComposeHash:
      return signer.SignAddComposeHash(envelope, to, compose_hash);
    case Kind::kAppCall:
      return signer.SignAppCall(envelope, to, app_call);
  }
  return absl::InternalError("unknown intent");
}

absl::StatusOr<TxIntent> TxIntent::FromCall(const Address& to, ByteView calldata) {
  if (absl::StatusOr<DeployAndRegisterAppParams> d = DecodeDeployAndRegisterApp(calldata); d.ok()) {
    return Deploy(to, *d);
  }
  if (absl::StatusOr<Hash32> h = DecodeAddComposeHash(calldata); h.ok()) return AddComposeHash(to, *h);
  if (absl::StatusOr<AppCall> c = DecodeAppCall(calldata); c.ok()) return App(to, *c);
  return absl::InvalidArgumentError("a call that is none of the intents");
}

namespace {

constexpr char kNotStartedPayload[] = "type.onchain-kms/chain.onchain.NotStarted";

// The signer's answer to `request`, named and verified.
absl::StatusOr<SignedTx> Checked(absl::StatusOr<SignedTx> tx, const TxEnvelope& envelope, const TxIntent& intent) {
  if (!tx.ok()) {
    absl::Status out(tx.status().code(),
                     absl::StrCat("sign ", intent.Name(), " nonce ", envelope.nonce, ": ", tx.status().message()));
    // The signer's payloads (e.g. which service refused, not started) stay with the status.
    tx.status().ForEachPayload([&](absl::string_view url, const absl::Cord& p) { out.SetPayload(url, p); });
    return out;
  }
  if (absl::Status s = VerifySignedTx(*tx, envelope, intent.to, intent.Calldata()); !s.ok()) return s;
  return tx;
}

}  // namespace

absl::Status NotStartedError(absl::string_view why) {
  absl::Status s = absl::AbortedError(absl::StrCat("not started: ", why));
  s.SetPayload(kNotStartedPayload, absl::Cord());
  return s;
}

bool IsNotStarted(const absl::Status& status) {
  return absl::IsAborted(status) && status.GetPayload(kNotStartedPayload).has_value();
}

std::vector<absl::StatusOr<SignedTx>> TxSigner::SignBatch(const std::vector<TxRequest>& requests) {
  std::vector<absl::StatusOr<SignedTx>> out;
  out.reserve(requests.size());
  bool stopped = false;
  for (const TxRequest& r : requests) {
    if (stopped) {
      out.push_back(NotStartedError("an earlier item of this sender was refused"));
      continue;
    }
    out.push_back(r.intent.SignWith(*this, r.envelope));
    stopped = !out.back().ok();
  }
  return out;
}

absl::StatusOr<SignedTx> SignIntent(TxSigner& signer, const TxEnvelope& envelope, const TxIntent& intent) {
  return Checked(intent.SignWith(signer, envelope), envelope, intent);
}

std::vector<absl::StatusOr<SignedTx>> SignIntents(TxSigner& signer, const std::vector<TxRequest>& requests) {
  std::vector<absl::StatusOr<SignedTx>> out = signer.SignBatch(requests);
  if (out.size() != requests.size()) {
    out.assign(requests.size(), absl::InternalError(absl::StrCat("signer answered ", out.size(), " results for ",
                                                                 requests.size(), " requests")));
  }
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = Checked(std::move(out[i]), requests[i].envelope, requests[i].intent);
  }
  return out;
}

absl::Status VerifySignedTx(const SignedTx& tx, const TxEnvelope& env, const Address& to, ByteView data) {
  auto bad = [](absl::string_view what) {
    return absl::InternalError(absl::StrCat("signer returned a transaction that does not match the request: ", what));
  };
  absl::StatusOr<SignedEip1559Transaction> decoded = DecodeSignedEip1559(tx.raw);
  if (!decoded.ok()) return bad(decoded.status().message());
  const Eip1559Transaction& t = decoded->tx;
  absl::StatusOr<Address> sender = decoded->Sender();
  if (!sender.ok()) return bad(sender.status().message());
  if (*sender != env.from) return bad(absl::StrCat("signed by ", sender->Checksummed()));
  if (TxHash(tx.raw) != tx.hash) return bad("transaction hash");
  if (t.chain_id != env.chain_id) return bad("chain id");
  if (t.nonce != env.nonce) return bad("nonce");
  if (t.gas_limit != env.gas_limit) return bad("gas limit");
  if (t.max_fee_per_gas != env.max_fee_per_gas) return bad("max fee per gas");
  if (t.max_priority_fee_per_gas != env.max_priority_fee_per_gas) return bad("max priority fee per gas");
  if (!t.to.has_value() || *t.to != to) return bad("to");
  if (!t.value.IsZero()) return bad("value");
  if (ByteView(t.data) != data) return bad("data");
  if (!t.access_list.empty()) return bad("access list");
  // The reported fields must describe the same bytes.
  if (tx.from != env.from || tx.chain_id != t.chain_id || tx.nonce != t.nonce || tx.to != to ||
      tx.gas_limit != t.gas_limit || tx.max_fee_per_gas != t.max_fee_per_gas ||
      tx.max_priority_fee_per_gas != t.max_priority_fee_per_gas || ByteView(tx.data) != data || !tx.value.IsZero()) {
    return bad("reported fields differ from the signed bytes");
  }
  return absl::OkStatus();
}

}  // namespace chain::onchain
