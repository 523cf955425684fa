#include "cloudapi/env_pubkey_signature.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "chain/hash32.h"
#include "chain/hex.h"
#include "chain/keccak.h"
#include "chain/secp256k1.h"
#include "chain/u256.h"

namespace cloudapi {
namespace {

// The order n of secp256k1.
constexpr chain::U256 kOrder =
    chain::U256::FromLimbs(0xBFD25E8CD0364141ULL, 0xBAAEDCE6AF48A03BULL, 0xFFFFFFFFFFFFFFFEULL, 0xFFFFFFFFFFFFFFFFULL);

}  // namespace

absl::StatusOr<crypto::Bytes> EnvEncryptPubkeySignedMessage(absl::string_view app_id_hex,
                                                            const crypto::X25519PublicKey& public_key) {
  static constexpr absl::string_view kPrefix = "dstack-env-encrypt-pubkey:";
  crypto::Bytes message(kPrefix.begin(), kPrefix.end());
  message.resize(kPrefix.size() + 20);
  absl::Status st = chain::FromHexInto(app_id_hex, absl::MakeSpan(message).subspan(kPrefix.size(), 20),
                                       chain::HexPrefix::kOptional, "app id");
  if (!st.ok()) return st;
  message.insert(message.end(), public_key.begin(), public_key.end());
  return message;
}

absl::StatusOr<EnvPubkeySignature> ParseEnvPubkeySignature(absl::string_view signature_hex) {
  std::array<uint8_t, 65> raw{};
  absl::Status st =
      chain::FromHexInto(signature_hex, absl::MakeSpan(raw), chain::HexPrefix::kOptional, "kms signature");
  if (!st.ok()) return st;
  const uint8_t v = raw[64];
  if (v > 1) {
    return absl::InvalidArgumentError(absl::StrCat("kms signature: recovery id must be 0 or 1, got ", v));
  }
  EnvPubkeySignature sig{};
  std::copy_n(raw.begin(), 64, sig.rs.begin());
  sig.recovery_id = v;
  return sig;
}

absl::StatusOr<std::array<uint8_t, 33>> RecoverEnvEncryptPubkeySigner(absl::string_view app_id_hex,
                                                                      const crypto::X25519PublicKey& public_key,
                                                                      const EnvPubkeySignature& signature) {
  absl::StatusOr<crypto::Bytes> message = EnvEncryptPubkeySignedMessage(app_id_hex, public_key);
  if (!message.ok()) return message.status();
  const chain::Hash32 digest = chain::Keccak256(chain::ByteView(*message));

  chain::RecoverableSignature sig;
  std::copy_n(signature.rs.begin(), 32, sig.r.begin());
  std::copy_n(signature.rs.begin() + 32, 32, sig.s.begin());
  sig.recovery_id = signature.recovery_id;
  if (!sig.IsLowS()) {
    // (r, n - s) with the other parity recovers the same key; chain::RecoverPublicKey insists
    // on low s (EIP-2), noble's recovery does not.
    const chain::U256 s = chain::U256::FromBytes32(sig.s);
    if (s < kOrder) {
      sig.s = (*chain::U256::CheckedSub(kOrder, s)).ToBytes32();
      sig.recovery_id ^= 1;
    }
  }
  absl::StatusOr<std::array<uint8_t, 65>> uncompressed = chain::RecoverPublicKey(digest, sig);
  if (!uncompressed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("kms signature: ", uncompressed.status().message()));
  }
  std::array<uint8_t, 33> compressed{};
  compressed[0] = static_cast<uint8_t>(0x02 | ((*uncompressed)[64] & 1));
  std::copy_n(uncompressed->begin() + 1, 32, compressed.begin() + 1);
  return compressed;
}

absl::Status VerifyEnvEncryptPubkey(absl::string_view app_id_hex, const crypto::X25519PublicKey& public_key,
                                    const EnvPubkeySignature& signature, crypto::ByteView trusted_kms_signer) {
  if (trusted_kms_signer.size() != 33 || (trusted_kms_signer[0] != 0x02 && trusted_kms_signer[0] != 0x03)) {
    return absl::InvalidArgumentError("trusted kms signer: want a 33-byte compressed secp256k1 public key");
  }
  absl::StatusOr<std::array<uint8_t, 33>> signer = RecoverEnvEncryptPubkeySigner(app_id_hex, public_key, signature);
  if (!signer.ok()) return signer.status();
  if (!std::equal(signer->begin(), signer->end(), trusted_kms_signer.begin())) {
    return absl::PermissionDeniedError(absl::StrCat("kms signature over the env encryption key: signed by ",
                                                    chain::ToHex(*signer), ", not by the trusted kms key ",
                                                    chain::ToHex(trusted_kms_signer)));
  }
  return absl::OkStatus();
}

}  // namespace cloudapi
