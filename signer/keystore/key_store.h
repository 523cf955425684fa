// The signer's keys: every keystore V3 file of a directory, decrypted once at start-up into
// locked memory, addressed by Ethereum address. Immutable after loading, so concurrent signing
// needs no lock. Knows nothing of policy; it signs what it is handed.
#ifndef ONCHAIN_KMS_SIGNER_KEYSTORE_KEY_STORE_H_
#define ONCHAIN_KMS_SIGNER_KEYSTORE_KEY_STORE_H_

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "chain/address.h"
#include "chain/hash32.h"
#include "chain/secp256k1.h"
#include "chain/transaction.h"
#include "crypto/locked_buffer.h"
#include "crypto/sha256.h"
#include "signer/keystore/keystore_v3.h"

namespace signer::keystore {

// A key as callers see it: never its secret.
struct KeyInfo {
  chain::Address address;
  std::string label;  // file name without directory
};

// The password for a file, chosen by the address its "address" field declares (nullopt when
// the file has none). Returns a pointer valid for the duration of the Load call.
using PasswordLookup = std::function<absl::StatusOr<const crypto::LockedBuffer*>(const std::optional<chain::Address>&)>;

class KeyStore {
 public:
  // Loads every regular file in `dir` (or symlink to one, as Kubernetes Secret volumes have)
  // whose name does not start with '.'; other entries (`lost+found` on a mounted volume, a FIFO)
  // are skipped and listed in skipped() for the caller to warn about. Fails (and holds no key)
  // if any file is readable by group/others, malformed, has hostile KDF parameters, does not
  // decrypt, or repeats an address. Errors name the file, never a secret.
  static absl::StatusOr<std::unique_ptr<KeyStore>> Load(const std::string& dir, const PasswordLookup& passwords,
                                                        const KdfLimits& limits = KdfLimits());

  // For tests and tools: a store holding the given raw secrets (32 bytes each), labelled.
  static absl::StatusOr<std::unique_ptr<KeyStore>> FromSecrets(
      const std::vector<std::pair<std::string, chain::Bytes>>& labelled_secrets);

  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // Sorted by address.
  std::vector<KeyInfo> List() const;
  bool Has(const chain::Address& address) const { return keys_.contains(address); }
  size_t size() const { return keys_.size(); }
  // Names of the directory entries Load skipped because they are not regular files, sorted.
  const std::vector<std::string>& skipped() const { return skipped_; }

  // Signs a 32-byte digest (RFC 6979, low-s) and checks the signature before returning it: the
  // signing equation and R recomputed from the nonce (chain::SignHashSelfChecked, one fixed-base
  // multiplication), and the secret still the one whose address was derived at load (its SHA-256
  // compared with the load's). Together these make the signature verify against the key's public
  // key, recovery id included. NotFound for an unknown key; Internal if a check fails (nothing is
  // returned).
  absl::StatusOr<chain::RecoverableSignature> SignHash(const chain::Address& address, const chain::Hash32& hash) const;

  // Signs and encodes an EIP-1559 transaction (raw bytes, hash, sender).
  absl::StatusOr<chain::SignedTransaction> SignEip1559(const chain::Address& address,
                                                       const chain::Eip1559Transaction& tx) const;

 private:
  struct Key {
    std::string label;
    crypto::LockedBuffer secret;
    // SHA-256 of `secret` at load, when its address was derived: a bit flipped in the secret
    // since would sign for another key, consistently enough to pass the signature's own check.
    crypto::Sha256Digest secret_digest;
  };
  friend class KeyStoreTestPeer;  // key_store_testing.h: flips a bit of a loaded secret
  KeyStore() = default;
  void Add(const chain::Address& address, std::string label, crypto::LockedBuffer secret);
  absl::flat_hash_map<chain::Address, Key> keys_;
  std::vector<std::string> skipped_;
};

}  // namespace signer::keystore

#endif  // ONCHAIN_KMS_SIGNER_KEYSTORE_KEY_STORE_H_
