// The simulator's keys and signatures, on the project's own primitives: crypto/ (randomness,
// SHA-256, X25519), cloudapi/ (env encryption, the signed env-pubkey message), chain/ (Keccak-256,
// secp256k1). Nothing here touches OpenSSL directly.
#ifndef ONCHAIN_KMS_TEST_CLOUDSIM_SIM_CRYPTO_H_
#define ONCHAIN_KMS_TEST_CLOUDSIM_SIM_CRYPTO_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/hex.h"
#include "cloudapi/env_vars.h"
#include "test/cloudsim/eth_forms.h"

namespace cloudsim {

std::string RandomHex(size_t nbytes);
// A random version-4 UUID with dashes.
std::string RandomUuid4();
std::string Sha256Hex(absl::string_view data);
// keccak256(data) as 64 lower-case hex digits.
std::string Keccak256Hex(absl::Span<const uint8_t> data);

// A fresh X25519 env-encryption key pair: {private hex, public hex}.
std::pair<std::string, std::string> NewAppKeyPair();
// Decrypts an encrypted_env (the SDK's encryptEnvVars output) with an app's private key.
absl::StatusOr<std::vector<cloudapi::EnvVar>> DecryptEnv(absl::string_view private_key_hex,
                                                         absl::string_view encrypted_env_hex);

// The KMS key that signs apps' env-encryption public keys (facts §7):
// r || s || v(0/1) over keccak256("dstack-env-encrypt-pubkey:" || app_id || public_key).
class KmsSigner {
 public:
  static absl::StatusOr<KmsSigner> FromSecretHex(absl::string_view secret_hex);
  static KmsSigner Generate();

  // 130 lower-case hex digits. app_id: 40 hex (optional 0x), public_key: 64 hex.
  absl::StatusOr<std::string> SignEnvPubkey(absl::string_view app_id_hex, absl::string_view public_key_hex) const;
  std::string SecretHex() const { return chain::ToHex(secret_, false); }
  std::string CompressedPublicKeyHex() const;  // "0x" + 33 bytes
  std::string Address() const;                 // EIP-55

 private:
  explicit KmsSigner(Bytes secret) : secret_(std::move(secret)) {}
  Bytes secret_;
};

// "0x" + the compressed key that produced `signature_hex` over (app_id, public_key) (tests).
absl::StatusOr<std::string> RecoverEnvPubkeySigner(absl::string_view app_id_hex, absl::string_view public_key_hex,
                                                   absl::string_view signature_hex);

}  // namespace cloudsim

#endif  // ONCHAIN_KMS_TEST_CLOUDSIM_SIM_CRYPTO_H_
