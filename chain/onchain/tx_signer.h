// The signing interface of the on-chain operations. It mirrors the signer service's intent RPCs
// (proto/onchainkms/signer/v1/signer.proto: SignDeployAndRegisterApp, SignAddComposeHash): the
// caller names the call and the envelope, the signer builds the calldata itself and returns
// the signed EIP-1559 transaction. Implementations: LocalKeySigner (in-process, tests) and the
// gRPC client of the signer service (orchestrator/).
//
// The anti-equivocation rule every implementation enforces, per (chain_id, from, nonce):
// the same transaction again is a REPEAT (same bytes); the same to/value/data with BOTH fees
// raised by at least 10% over the highest signed so far is a FEE_BUMP; anything else is
// FAILED_PRECONDITION.
#ifndef ONCHAIN_KMS_CHAIN_ONCHAIN_TX_SIGNER_H_
#define ONCHAIN_KMS_CHAIN_ONCHAIN_TX_SIGNER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/dstack_app_calls.h"
#include "chain/dstack_calls.h"
#include "chain/hash32.h"
#include "chain/u256.h"

namespace chain::onchain {

enum class NonceUse { kUnspecified, kFirst, kRepeat, kFeeBump };

// signer.proto fields 1-8 of both intent requests.
struct TxEnvelope {
  std::string request_id;  // audit-log tag, e.g. "<operation id>/deploy"
  uint64_t chain_id = 0;
  Address from;
  uint64_t nonce = 0;
  uint64_t gas_limit = 0;
  U256 max_fee_per_gas;
  U256 max_priority_fee_per_gas;
  // signer.proto only_if_signed: a repair that takes only what was signed before (REPEAT), else
  // NOT_FOUND. A per-call option, never journaled with the request.
  bool only_if_signed = false;
};

// signer.proto SignedTransaction, typed.
struct SignedTx {
  Bytes raw;  // 0x02 || rlp([...]): what eth_sendRawTransaction takes
  Hash32 hash;
  Address from;
  uint64_t chain_id = 0;
  uint64_t nonce = 0;
  Address to;
  Wei value;
  Bytes data;
  uint64_t gas_limit = 0;
  U256 max_fee_per_gas;
  U256 max_priority_fee_per_gas;
  NonceUse nonce_use = NonceUse::kUnspecified;
  std::optional<Hash32> replaced_transaction_hash;  // for kFeeBump
};

class TxSigner;

// What a transaction does: one of the intents. Kept with every in-flight transaction so the
// same call can be signed again with higher fees.
struct TxIntent {
  enum class Kind { kDeployAndRegisterApp, kAddComposeHash, kAppCall };
  Kind kind = Kind::kDeployAndRegisterApp;
  Address to;                         // the KMS factory or the app contract
  DeployAndRegisterAppParams deploy;  // kDeployAndRegisterApp
  Hash32 compose_hash;                // kAddComposeHash
  AppCall app_call;                   // kAppCall

  static TxIntent Deploy(const Address& kms, const DeployAndRegisterAppParams& params);
  static TxIntent AddComposeHash(const Address& app, const Hash32& hash);
  static TxIntent App(const Address& app, const AppCall& call);
  Bytes Calldata() const;
  absl::string_view Name() const;  // "deployAndRegisterApp" / "addComposeHash" / the app call's signature
  // Signs this intent through the matching method of `signer` (no verification: SignIntent).
  absl::StatusOr<SignedTx> SignWith(TxSigner& signer, const TxEnvelope& envelope) const;
  // The intent a transaction's `to` and calldata express; INVALID_ARGUMENT for any other call.
  static absl::StatusOr<TxIntent> FromCall(const Address& to, ByteView calldata);
};

// One request of a batch (TxSigner::SignBatch); also what is journaled before signing
// (tx_request.h).
struct TxRequest {
  TxEnvelope envelope;
  TxIntent intent;
};

class TxSigner {
 public:
  virtual ~TxSigner() = default;
  // DstackKms.deployAndRegisterApp (5-arg, or 6-arg when params.require_tcb_up_to_date is set).
  virtual absl::StatusOr<SignedTx> SignDeployAndRegisterApp(const TxEnvelope& envelope, const Address& kms,
                                                            const DeployAndRegisterAppParams& params) = 0;
  // DstackApp.addComposeHash(bytes32).
  virtual absl::StatusOr<SignedTx> SignAddComposeHash(const TxEnvelope& envelope, const Address& app,
                                                      const Hash32& compose_hash) = 0;
  // A DstackApp governance call (chain/dstack_app_calls.h; the signer's SignAppCall). Signers that
  // do not support it: UNIMPLEMENTED.
  virtual absl::StatusOr<SignedTx> SignAppCall(const TxEnvelope& envelope, const Address& app, const AppCall& call);

  // Signs transactions of ONE sender with consecutive nonces, in order: results[i] is
  // requests[i]'s. A refusal never leaves a nonce gap under a later signature: once an item fails,
  // the later ones are not started (IsNotStarted: nothing was signed or recorded for them, their
  // nonces are free; sign them again, renumbered). An implementation that cannot guarantee it
  // (an older signer service) may return a later item signed: that signature stands, and the
  // caller must fill the gap. This default signs one by one; the signer service's client sends one
  // SignBatch call (stop_sender_at_refusal).
  virtual std::vector<absl::StatusOr<SignedTx>> SignBatch(const std::vector<TxRequest>& requests);
};

// ABORTED, marked: the item of a batch was not started because an earlier one failed.
absl::Status NotStartedError(absl::string_view why);
bool IsNotStarted(const absl::Status& status);

// Signs `intent` through `signer` and checks the answer with VerifySignedTx.
absl::StatusOr<SignedTx> SignIntent(TxSigner& signer, const TxEnvelope& envelope, const TxIntent& intent);
// SignBatch, each answer checked as SignIntent checks it.
std::vector<absl::StatusOr<SignedTx>> SignIntents(TxSigner& signer, const std::vector<TxRequest>& requests);

// Never trust a signer's word: decodes `tx.raw` (strict EIP-1559), recovers the sender, recomputes
// the hash, and compares chain id, nonce, gas, fees, to, value (0) and data with what was asked,
// and the reported fields with the decoded ones. INTERNAL naming the first mismatch.
absl::Status VerifySignedTx(const SignedTx& tx, const TxEnvelope& envelope, const Address& to, ByteView data);

}  // namespace chain::onchain

#endif  // ONCHAIN_KMS_CHAIN_ONCHAIN_TX_SIGNER_H_
