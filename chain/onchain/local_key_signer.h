// An in-process TxSigner for tests: holds one secp256k1 secret and enforces the signer service's
// anti-equivocation rule in memory (see tx_signer.h), so tests prove the operations never ask
// for a conflicting signature. Test-only (testonly target): production keys live in signer/.
#ifndef ONCHAIN_KMS_CHAIN_ONCHAIN_LOCAL_KEY_SIGNER_H_
#define ONCHAIN_KMS_CHAIN_ONCHAIN_LOCAL_KEY_SIGNER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "chain/onchain/tx_signer.h"

namespace chain::onchain {

class LocalKeySigner final : public TxSigner {
 public:
  // 32-byte secret as 64 hex digits ("0x" optional).
  static absl::StatusOr<std::unique_ptr<LocalKeySigner>> FromHex(absl::string_view secret_hex);
  ~LocalKeySigner() override;

  const Address& address() const { return address_; }

  absl::StatusOr<SignedTx> SignDeployAndRegisterApp(const TxEnvelope& envelope, const Address& kms,
                                                    const DeployAndRegisterAppParams& params) override;
  absl::StatusOr<SignedTx> SignAddComposeHash(const TxEnvelope& envelope, const Address& app,
                                              const Hash32& compose_hash) override;
  absl::StatusOr<SignedTx> SignAppCall(const TxEnvelope& envelope, const Address& app, const AppCall& call) override;

  // Signatures produced (first, repeat and fee bump alike) and refusals so far.
  int signatures() const;
  int refusals() const;
  // The next signing request fails with `status` (nothing is signed or recorded).
  void FailNext(absl::Status status);

 private:
  LocalKeySigner(const std::array<uint8_t, 32>& secret, const Address& address);
  absl::StatusOr<SignedTx> Sign(const TxEnvelope& envelope, const Address& to, Bytes data);

  struct Record {
    Address to;
    Bytes data;
    U256 highest_max_fee;
    U256 highest_priority_fee;
    Hash32 last_hash;
    std::vector<std::pair<TxEnvelope, SignedTx>> signed_txs;
  };

  absl::Status CheckEnvelope(const TxEnvelope& env) const;
  // Whether exactly this request was signed (the only_if_signed repair).
  static bool SignedBefore(const Record* record, const TxEnvelope& env, const Address& to, const Bytes& data);

  std::array<uint8_t, 32> secret_;
  const Address address_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, Record> records_ ABSL_GUARDED_BY(mu_);  // (chain, nonce)
  int signatures_ ABSL_GUARDED_BY(mu_) = 0;
  int refusals_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status fail_next_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chain::onchain

#endif  // ONCHAIN_KMS_CHAIN_ONCHAIN_LOCAL_KEY_SIGNER_H_
