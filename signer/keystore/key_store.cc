#include "signer/keystore/key_store.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "crypto/rfc6979.h"
#include "signer/keystore/secret_file.h"

namespace signer::keystore {

absl::StatusOr<std::unique_ptr<KeyStore>> KeyStore::Load(const std::string& dir, const PasswordLookup& passwords,
                                                         const KdfLimits& limits) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return absl::NotFoundError(absl::StrCat("keystore directory ", dir, ": ", std::strerror(errno)));
  std::vector<std::string> names;
  for (dirent* e = ::readdir(d); e != nullptr; e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;  // ".", "..", hidden and our own temp files
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());

  std::unique_ptr<KeyStore> store(new KeyStore());
  for (const std::string& name : names) {
    const std::string path = absl::StrCat(dir, "/", name);
    if (struct stat st; ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      store->skipped_.push_back(name);  // lost+found on a volume, a FIFO: not a key file
      continue;
    }
    absl::StatusOr<std::string> text = ReadPrivateFile(path, limits.max_file_bytes);
    if (!text.ok()) return absl::Status(text.status().code(), absl::StrCat("keystore file ", text.status().message()));
    absl::StatusOr<KeystoreInfo> info = InspectKeystore(*text, limits);
    if (!info.ok()) return absl::Status(info.status().code(), absl::StrCat(path, ": ", info.status().message()));
    absl::StatusOr<const crypto::LockedBuffer*> password = passwords(info->address);
    if (!password.ok())
      return absl::Status(password.status().code(), absl::StrCat(path, ": ", password.status().message()));
    absl::StatusOr<DecryptedKey> key = DecryptKeystore(*text, (*password)->view(), limits);
    if (!key.ok()) return absl::Status(key.status().code(), absl::StrCat(path, ": ", key.status().message()));
    if (store->keys_.contains(key->address)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": key ", key->address.Checksummed(), " is already loaded from another file"));
    }
    absl::StatusOr<chain::PublicKey> public_key = chain::PublicKey::FromSecret(key->secret.view());
    if (!public_key.ok() || public_key->address() != key->address) {
      return absl::InternalError(absl::StrCat(path, ": the decrypted secret does not derive the key's address"));
    }
    store->Add(key->address, name, std::move(key->secret));
  }
  return store;
}

absl::StatusOr<std::unique_ptr<KeyStore>> KeyStore::FromSecrets(
    const std::vector<std::pair<std::string, chain::Bytes>>& labelled_secrets) {
  std::unique_ptr<KeyStore> store(new KeyStore());
  for (const auto& [label, secret] : labelled_secrets) {
    absl::StatusOr<chain::PublicKey> public_key = chain::PublicKey::FromSecret(secret);
    if (!public_key.ok()) return absl::InvalidArgumentError(absl::StrCat(label, ": invalid secret key"));
    absl::StatusOr<crypto::LockedBuffer> buf = crypto::LockedBuffer::Allocate(32);
    if (!buf.ok()) return buf.status();
    std::memcpy(buf->data(), secret.data(), 32);
    store->Add(public_key->address(), label, *std::move(buf));
  }
  return store;
}

void KeyStore::Add(const chain::Address& address, std::string label, crypto::LockedBuffer secret) {
  const crypto::Sha256Digest digest = crypto::Sha256(secret.view());
  keys_.emplace(address, Key{std::move(label), std::move(secret), digest});
}

std::vector<KeyInfo> KeyStore::List() const {
  std::vector<KeyInfo> out;
  out.reserve(keys_.size());
  for (const auto& [address, key] : keys_) out.push_back(KeyInfo{address, key.label});
  std::sort(out.begin(), out.end(), [](const KeyInfo& a, const KeyInfo& b) { return a.address < b.address; });
  return out;
}

absl::StatusOr<chain::RecoverableSignature> KeyStore::SignHash(const chain::Address& address,
                                                               const chain::Hash32& hash) const {
  auto it = keys_.find(address);
  if (it == keys_.end())
    return absl::NotFoundError(absl::StrCat("key ", address.Checksummed(), " is not held by this signer"));
  // Defence against faults (bit flips, a miscompiled or corrupted library): never release a
  // signature that does not verify against the key. Checking the signing equation with the
  // nonce and R recomputed costs one fixed-base multiplication, 0.8 of a signature where a
  // verification costs 1.3 (bench/README.md "Stop 31"); the digest makes it a check against the
  // key loaded, not against whatever the secret's memory now holds.
  const Key& key = it->second;
  absl::StatusOr<chain::RecoverableSignature> sig =
      chain::SignHashSelfChecked(key.secret.view(), hash, crypto::Secp256k1Rfc6979Nonce);
  if (!sig.ok()) return absl::InternalError(sig.status().message());  // a loaded key is valid: never the caller's fault
  if (crypto::Sha256(key.secret.view()) != key.secret_digest) {
    return absl::InternalError("signature self-check failed: the key in memory is not the key loaded");
  }
  return sig;
}

absl::StatusOr<chain::SignedTransaction> KeyStore::SignEip1559(const chain::Address& address,
                                                               const chain::Eip1559Transaction& tx) const {
  absl::StatusOr<chain::RecoverableSignature> sig = SignHash(address, tx.SigningHash());
  if (!sig.ok()) return sig.status();
  chain::SignedTransaction out;
  out.raw = tx.EncodeSigned(*sig);
  out.hash = chain::TxHash(out.raw);
  out.from = address;
  return out;
}

}  // namespace signer::keystore
