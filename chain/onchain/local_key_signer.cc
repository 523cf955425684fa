#include "chain/onchain/local_key_signer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "chain/hex.h"
#include "chain/secp256k1.h"
#include "chain/transaction.h"

namespace chain::onchain {
namespace {

// a >= b * 1.1, exactly: 10a >= 11b.
bool AtLeastTenPercentMore(const U256& a, const U256& b) {
  absl::StatusOr<U256> a10 = U256::CheckedMul(a, U256(10));
  absl::StatusOr<U256> b11 = U256::CheckedMul(b, U256(11));
  if (!b11.ok()) return false;
  if (!a10.ok()) return true;
  return *a10 >= *b11;
}

bool SameEnvelope(const TxEnvelope& a, const TxEnvelope& b) {
  return a.chain_id == b.chain_id && a.from == b.from && a.nonce == b.nonce && a.gas_limit == b.gas_limit &&
         a.max_fee_per_gas == b.max_fee_per_gas && a.max_priority_fee_per_gas == b.max_priority_fee_per_gas;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalKeySigner>> LocalKeySigner::FromHex(absl::string_view secret_hex) {
  std::array<uint8_t, 32> secret{};
  if (absl::Status s = FromHexInto(secret_hex, absl::MakeSpan(secret), HexPrefix::kOptional, "secret"); !s.ok()) {
    return s;
  }
  absl::StatusOr<Address> address = AddressFromSecret(ByteView(secret.data(), secret.size()));
  if (!address.ok()) return address.status();
  return std::unique_ptr<LocalKeySigner>(new LocalKeySigner(secret, *address));
}

LocalKeySigner::LocalKeySigner(const std::array<uint8_t, 32>& secret, const Address& address)
    : secret_(secret), address_(address) {}

LocalKeySigner::~LocalKeySigner() {
  volatile uint8_t* p = secret_.data();
  for (size_t i = 0; i < secret_.size(); ++i) p[i] = 0;
}

int LocalKeySigner::signatures() const {
  absl::MutexLock l(&mu_);
  return signatures_;
}

int LocalKeySigner::refusals() const {
  absl::MutexLock l(&mu_);
  return refusals_;
}

void LocalKeySigner::FailNext(absl::Status status) {
  absl::MutexLock l(&mu_);
  fail_next_ = std::move(status);
}

absl::StatusOr<SignedTx> LocalKeySigner::SignDeployAndRegisterApp(const TxEnvelope& envelope, const Address& kms,
                                                                  const DeployAndRegisterAppParams& params) {
  if (params.initial_owner.IsZero()) return absl::InvalidArgumentError("initial_owner: must be non-zero");
  return Sign(envelope, kms, EncodeDeployAndRegisterApp(params));
}

absl::StatusOr<SignedTx> LocalKeySigner::SignAddComposeHash(const TxEnvelope& envelope, const Address& app,
                                                            const Hash32& compose_hash) {
  if (compose_hash.IsZero()) return absl::InvalidArgumentError("compose_hash: must be non-zero");
  return Sign(envelope, app, EncodeAddComposeHash(compose_hash));
}

absl::StatusOr<SignedTx> LocalKeySigner::SignAppCall(const TxEnvelope& envelope, const Address& app,
                                                     const AppCall& call) {
  return Sign(envelope, app, EncodeAppCall(call));
}

bool LocalKeySigner::SignedBefore(const Record* record, const TxEnvelope& env, const Address& to, const Bytes& data) {
  if (record == nullptr || record->to != to || record->data != data) return false;
  return std::any_of(record->signed_txs.begin(), record->signed_txs.end(),
                     [&](const auto& signed_tx) { return SameEnvelope(signed_tx.first, env); });
}

absl::Status LocalKeySigner::CheckEnvelope(const TxEnvelope& env) const {
  if (env.from != address_)
    return absl::NotFoundError(absl::StrCat("from_address: key ", env.from.Checksummed(), " not held"));
  if (env.chain_id == 0) return absl::InvalidArgumentError("chain_id: required");
  if (env.gas_limit == 0) return absl::InvalidArgumentError("gas_limit: required");
  if (env.max_priority_fee_per_gas > env.max_fee_per_gas) {
    return absl::InvalidArgumentError("max_priority_fee_per_gas: above max_fee_per_gas");
  }
  return absl::OkStatus();
}

absl::StatusOr<SignedTx> LocalKeySigner::Sign(const TxEnvelope& env, const Address& to, Bytes data) {
  if (absl::Status s = CheckEnvelope(env); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  if (!fail_next_.ok()) {
    absl::Status s = std::move(fail_next_);
    fail_next_ = absl::OkStatus();
    return s;
  }
  Record* record = nullptr;
  NonceUse use = NonceUse::kFirst;
  std::optional<Hash32> replaced;
  auto it = records_.find({env.chain_id, env.nonce});
  if (env.only_if_signed && !SignedBefore(it == records_.end() ? nullptr : &it->second, env, to, data)) {
    ++refusals_;
    return absl::NotFoundError(absl::StrCat(
        "not signed before: only_if_signed and no transaction signed for this request at nonce ", env.nonce));
  }
  if (it != records_.end()) {
    record = &it->second;
    if (record->to != to || record->data != data) {
      ++refusals_;
      return absl::FailedPreconditionError(
          absl::StrCat("nonce ", env.nonce, " of chain ", env.chain_id, " already signed for a different call"));
    }
    for (const auto& [e, tx] : record->signed_txs) {
      if (SameEnvelope(e, env)) {
        ++signatures_;
        SignedTx again = tx;
        again.nonce_use = NonceUse::kRepeat;
        again.replaced_transaction_hash.reset();
        return again;
      }
    }
    if (!AtLeastTenPercentMore(env.max_fee_per_gas, record->highest_max_fee) ||
        !AtLeastTenPercentMore(env.max_priority_fee_per_gas, record->highest_priority_fee)) {
      ++refusals_;
      return absl::FailedPreconditionError(absl::StrCat(
          "nonce ", env.nonce, " of chain ", env.chain_id,
          " already signed; a replacement must raise both fees by at least 10% (highest max fee ",
          record->highest_max_fee.ToDecimal(), ", priority ", record->highest_priority_fee.ToDecimal(), ")"));
    }
    use = NonceUse::kFeeBump;
    replaced = record->last_hash;
  }

  Eip1559Transaction tx;
  tx.chain_id = env.chain_id;
  tx.nonce = env.nonce;
  tx.max_priority_fee_per_gas = env.max_priority_fee_per_gas;
  tx.max_fee_per_gas = env.max_fee_per_gas;
  tx.gas_limit = env.gas_limit;
  tx.to = to;
  tx.data = data;
  absl::StatusOr<SignedTransaction> s = SignEip1559(ByteView(secret_.data(), secret_.size()), tx);
  if (!s.ok()) return s.status();
  SignedTx out;
  out.raw = s->raw;
  out.hash = s->hash;
  out.from = s->from;
  out.chain_id = env.chain_id;
  out.nonce = env.nonce;
  out.to = to;
  out.data = std::move(data);
  out.gas_limit = env.gas_limit;
  out.max_fee_per_gas = env.max_fee_per_gas;
  out.max_priority_fee_per_gas = env.max_priority_fee_per_gas;
  out.nonce_use = use;
  out.replaced_transaction_hash = replaced;
  if (record == nullptr) {
    record = &records_[{env.chain_id, env.nonce}];
    record->to = to;
    record->data = out.data;
  }
  record->highest_max_fee = std::max(record->highest_max_fee, env.max_fee_per_gas);
  record->highest_priority_fee = std::max(record->highest_priority_fee, env.max_priority_fee_per_gas);
  record->last_hash = out.hash;
  record->signed_txs.emplace_back(env, out);
  ++signatures_;
  return out;
}

}  // namespace chain::onchain
