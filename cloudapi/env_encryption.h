// Env-var encryption, byte-compatible with the SDK's encryptEnvVars (@phala/dstack-sdk 0.5.7,
// facts/phala-cloud-api.md §6):
//   plaintext = JSON.stringify({env: [{key, value}, ...]})      (UTF-8)
//   shared    = X25519(ephemeral_private, app_public_key)       (raw 32 bytes = AES-256 key)
//   output    = hex(ephemeral_public(32) || iv(12) || AES-256-GCM(plaintext) || tag(16))
// lowercase, no 0x. The result goes into `encrypted_env`.
#ifndef ONCHAIN_KMS_CLOUDAPI_ENV_ENCRYPTION_H_
#define ONCHAIN_KMS_CLOUDAPI_ENV_ENCRYPTION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cloudapi/env_vars.h"
#include "crypto/bytes.h"
#include "crypto/x25519.h"

namespace cloudapi {

// Encrypts to the app's env-encryption public key (64 hex digits, optional 0x: the `public_key`
// of GET /kms/{kms}/pubkey/{app_id} or `app_env_encrypt_pubkey`). InvalidArgument for a malformed
// or small-order key and for keys/values that are not valid UTF-8 (named by key, never by value).
absl::StatusOr<std::string> EncryptEnvVars(const std::vector<EnvVar>& vars, absl::string_view app_public_key_hex);

// The inverse, with the app's private key (the simulator, tests). InvalidArgument when the
// input is malformed, too short, fails authentication, or does not hold {"env":[{key,value}...]}.
absl::StatusOr<std::vector<EnvVar>> DecryptEnvVars(absl::string_view ciphertext_hex,
                                                   const crypto::X25519PrivateKey& app_private_key);

// The plaintext the SDK encrypts: {"env":[{"key":"K","value":"V"},...]} as JSON.stringify writes it.
absl::StatusOr<std::string> EnvVarsPlaintext(const std::vector<EnvVar>& vars);

// An env-encryption public key from hex (64 digits, optional 0x).
absl::StatusOr<crypto::X25519PublicKey> ParseX25519PublicKeyHex(absl::string_view hex);

namespace internal {
// EncryptEnvVars with a given ephemeral key and IV, for known-answer tests only: reusing an IV
// with the same ephemeral key breaks AES-GCM.
absl::StatusOr<std::string> EncryptEnvVarsDeterministic(const std::vector<EnvVar>& vars,
                                                        const crypto::X25519PublicKey& app_public_key,
                                                        const crypto::X25519PrivateKey& ephemeral, crypto::ByteView iv);
}  // namespace internal

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_ENV_ENCRYPTION_H_
