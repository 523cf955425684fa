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

Bytes TxIntent::Calldata() const {
  return kind == Kind::kDeployAndRegisterApp ? EncodeDeployAndRegisterApp(deploy) : EncodeAddComposeHash(compose_hash);
}

const char* TxIntent::Name() const {
  return kind == Kind::kDeployAndRegisterApp ? "deployAndRegisterApp" : "addComposeHash";
}

absl::StatusOr<SignedTx> SignIntent(TxSigner& signer, const TxEnvelope& envelope, const TxIntent& intent) {
  absl::StatusOr<SignedTx> tx = intent.kind == TxIntent::Kind::kDeployAndRegisterApp
                                    ? signer.SignDeployAndRegisterApp(envelope, intent.to, intent.deploy)
                                    : signer.SignAddComposeHash(envelope, intent.to, intent.compose_hash);
  if (!tx.ok()) {
    absl::Status out(tx.status().code(),
                     absl::StrCat("sign ", intent.Name(), " nonce ", envelope.nonce, ": ", tx.status().message()));
    // The signer's payloads (e.g. which service refused) stay with the status.
    tx.status().ForEachPayload([&](absl::string_view url, const absl::Cord& p) { out.SetPayload(url, p); });
    return out;
  }
  if (absl::Status s = VerifySignedTx(*tx, envelope, intent.to, intent.Calldata()); !s.ok()) return s;
  return tx;
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
