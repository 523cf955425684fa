#include "cloudapi/env_pubkey_signature.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "cloudapi/hex.h"

namespace cloudapi {

absl::StatusOr<crypto::Bytes> EnvEncryptPubkeySignedMessage(
    absl::string_view app_id_hex, const crypto::X25519PublicKey& public_key) {
  absl::StatusOr<crypto::Bytes> app_id = HexDecodeExact(app_id_hex, 20, "app id");
  if (!app_id.ok()) return app_id.status();
  static constexpr absl::string_view kPrefix = "dstack-env-encrypt-pubkey:";
  crypto::Bytes message(kPrefix.begin(), kPrefix.end());
  message.insert(message.end(), app_id->begin(), app_id->end());
  message.insert(message.end(), public_key.begin(), public_key.end());
  return message;
}

absl::StatusOr<EnvPubkeySignature> ParseEnvPubkeySignature(absl::string_view signature_hex) {
  absl::StatusOr<crypto::Bytes> raw = HexDecodeExact(signature_hex, 65, "kms signature");
  if (!raw.ok()) return raw.status();
  const uint8_t v = (*raw)[64];
  if (v > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("kms signature: recovery id must be 0 or 1, got ", v));
  }
  EnvPubkeySignature sig{};
  std::copy_n(raw->begin(), 64, sig.rs.begin());
  sig.recovery_id = v;
  return sig;
}

}  // namespace cloudapi
