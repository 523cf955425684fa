#include "test/cloudsim/sim_crypto.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "chain/address.h"
#include "chain/hash32.h"
#include "chain/hex.h"
#include "chain/keccak.h"
#include "chain/secp256k1.h"
#include "cloudapi/env_encryption.h"
#include "cloudapi/env_pubkey_signature.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "crypto/x25519.h"

namespace cloudsim {
namespace {

Bytes Random(size_t n) {
  absl::StatusOr<crypto::Bytes> b = crypto::RandomBytes(n);
  if (!b.ok()) std::abort();  // the CSPRNG failing is not recoverable for a key generator
  return *b;
}

std::string Compress(const std::array<uint8_t, 65>& uncompressed) {
  Bytes out(33);
  out[0] = (uncompressed[64] & 1) ? 0x03 : 0x02;
  std::copy(uncompressed.begin() + 1, uncompressed.begin() + 33, out.begin() + 1);
  return "0x" + chain::ToHex(out, false);
}

absl::StatusOr<chain::Hash32> MessageHash(absl::string_view app_id_hex, absl::string_view public_key_hex) {
  absl::StatusOr<crypto::X25519PublicKey> pub = cloudapi::ParseX25519PublicKeyHex(public_key_hex);
  if (!pub.ok()) return pub.status();
  absl::StatusOr<crypto::Bytes> msg = cloudapi::EnvEncryptPubkeySignedMessage(app_id_hex, *pub);
  if (!msg.ok()) return msg.status();
  return chain::Keccak256(crypto::ByteView(*msg));
}

}  // namespace

std::string RandomHex(size_t nbytes) { return chain::ToHex(Random(nbytes), false); }

std::string RandomUuid4() {
  Bytes b = Random(16);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  std::string h = chain::ToHex(b, false);
  return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-", h.substr(16, 4), "-",
                      h.substr(20));
}

std::string Sha256Hex(absl::string_view data) { return chain::ToHex(crypto::Sha256(data), false); }

std::string Keccak256Hex(absl::Span<const uint8_t> data) { return chain::Keccak256(data).Hex().substr(2); }

std::pair<std::string, std::string> NewAppKeyPair() {
  absl::StatusOr<crypto::X25519KeyPair> kp = crypto::GenerateX25519KeyPair();
  if (!kp.ok()) std::abort();
  return {chain::ToHex(kp->private_key.bytes(), false), chain::ToHex(kp->public_key, false)};
}

absl::StatusOr<std::vector<cloudapi::EnvVar>> DecryptEnv(absl::string_view private_key_hex,
                                                         absl::string_view encrypted_env_hex) {
  absl::StatusOr<chain::Bytes> raw = chain::FromHex(private_key_hex);
  if (!raw.ok()) return absl::InvalidArgumentError("app private key is not hex");
  absl::StatusOr<crypto::X25519PrivateKey> key = crypto::X25519PrivateKey::FromBytes(*raw);
  if (!key.ok()) return key.status();
  return cloudapi::DecryptEnvVars(encrypted_env_hex, *key);
}

absl::StatusOr<KmsSigner> KmsSigner::FromSecretHex(absl::string_view secret_hex) {
  absl::StatusOr<chain::Bytes> raw = chain::FromHex(secret_hex);
  if (!raw.ok()) return absl::InvalidArgumentError("KMS signing key is not hex");
  absl::Status s = chain::ValidateSecret(*raw);
  if (!s.ok()) return s;
  return KmsSigner(*raw);
}

KmsSigner KmsSigner::Generate() {
  for (;;) {
    Bytes k = Random(32);
    if (chain::ValidateSecret(k).ok()) return KmsSigner(std::move(k));
  }
}

absl::StatusOr<std::string> KmsSigner::SignEnvPubkey(absl::string_view app_id_hex,
                                                     absl::string_view public_key_hex) const {
  absl::StatusOr<chain::Hash32> h = MessageHash(app_id_hex, public_key_hex);
  if (!h.ok()) return h.status();
  absl::StatusOr<chain::RecoverableSignature> sig = chain::SignHash(secret_, *h);
  if (!sig.ok()) return sig.status();
  return chain::ToHex(sig->ToBytes(), false);
}

std::string KmsSigner::CompressedPublicKeyHex() const { return Compress(*chain::PublicKeyFromSecret(secret_)); }

std::string KmsSigner::Address() const { return chain::AddressFromSecret(secret_)->Checksummed(); }

absl::StatusOr<std::string> RecoverEnvPubkeySigner(absl::string_view app_id_hex, absl::string_view public_key_hex,
                                                   absl::string_view signature_hex) {
  absl::StatusOr<chain::Hash32> h = MessageHash(app_id_hex, public_key_hex);
  if (!h.ok()) return h.status();
  absl::StatusOr<chain::Bytes> raw = chain::FromHex(signature_hex);
  if (!raw.ok()) return absl::InvalidArgumentError("signature is not hex");
  absl::StatusOr<chain::RecoverableSignature> sig = chain::RecoverableSignature::FromBytes(*raw);
  if (!sig.ok()) return sig.status();
  absl::StatusOr<std::array<uint8_t, 65>> pub = chain::RecoverPublicKey(*h, *sig);
  if (!pub.ok()) return pub.status();
  return Compress(*pub);
}

}  // namespace cloudsim
