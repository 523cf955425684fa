// The KMS's signature over an app's env-encryption public key (GET /kms/{kms}/pubkey/{app_id}
// returns {public_key, signature}); facts/phala-cloud-api.md §7, @phala/dstack-sdk
// verifyEnvEncryptPublicKey:
//   message   = "dstack-env-encrypt-pubkey" ":" app_id (20 raw bytes) public_key (32 raw bytes)
//   digest    = keccak256(message)            (no "\x19Ethereum Signed Message" prefix)
//   signature = r(32) || s(32) || v(1), v the recovery id 0/1 (27/28 are rejected)
//   signer    = secp256k1 recovery -> compressed 33-byte key, which the caller compares with the
//               KMS's k256 root public key it trusts. The SDK itself never verifies.
#ifndef ONCHAIN_KMS_CLOUDAPI_ENV_PUBKEY_SIGNATURE_H_
#define ONCHAIN_KMS_CLOUDAPI_ENV_PUBKEY_SIGNATURE_H_

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/bytes.h"
#include "crypto/x25519.h"

namespace cloudapi {

struct EnvPubkeySignature {
  std::array<uint8_t, 64> rs;  // r || s, big-endian
  uint8_t recovery_id;         // 0 or 1
};

// The signed message (before keccak256). app_id: 40 hex digits, optional 0x.
absl::StatusOr<crypto::Bytes> EnvEncryptPubkeySignedMessage(absl::string_view app_id_hex,
                                                            const crypto::X25519PublicKey& public_key);

// 130 hex digits (optional 0x), the last byte 0 or 1. InvalidArgument otherwise.
absl::StatusOr<EnvPubkeySignature> ParseEnvPubkeySignature(absl::string_view signature_hex);

// The compressed (33-byte) secp256k1 key that signed `public_key` for `app_id_hex`, as the
// SDK's verifyEnvEncryptPublicKey returns it (without its "0x"). Like noble's recovery, a
// high-s signature is accepted (it recovers the same key as its low-s twin). InvalidArgument
// for a malformed app id or a signature from which no key recovers.
absl::StatusOr<std::array<uint8_t, 33>> RecoverEnvEncryptPubkeySigner(absl::string_view app_id_hex,
                                                                      const crypto::X25519PublicKey& public_key,
                                                                      const EnvPubkeySignature& signature);

// OK iff the signer is `trusted_kms_signer` (33-byte compressed key). PermissionDenied
// "kms signature over the env encryption key: signed by 0x02..., not by the trusted kms key
// 0x03..." otherwise (public keys are not secret); InvalidArgument for malformed input.
absl::Status VerifyEnvEncryptPubkey(absl::string_view app_id_hex, const crypto::X25519PublicKey& public_key,
                                    const EnvPubkeySignature& signature, crypto::ByteView trusted_kms_signer);

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_ENV_PUBKEY_SIGNATURE_H_
