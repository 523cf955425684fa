// Web3 Secret Storage (keystore V3) files: parsing with hostile-parameter bounds, decryption
// (scrypt or pbkdf2-hmac-sha256, AES-128-CTR, Keccak-256 MAC checked in constant time) into
// mlock()ed memory, and encryption of new files.
//
// Hardening (copied from geth and the anchors' pain points): KDF parameters are bounded before
// any work is done, unknown cipher/kdf/prf/version are refused, the legacy "Crypto" spelling is
// accepted, a ciphertext shorter than 32 bytes (geth's 31/30-byte test keys) is left-padded, and
// an "address" field must match the decrypted key.
#ifndef ONCHAIN_KMS_SIGNER_KEYSTORE_KEYSTORE_V3_H_
#define ONCHAIN_KMS_SIGNER_KEYSTORE_KEYSTORE_V3_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "crypto/locked_buffer.h"
#include "crypto/scrypt.h"

namespace signer::keystore {

// Bounds on what a keystore file may ask of us. Checked before any derivation.
struct KdfLimits {
  crypto::ScryptLimits scrypt;  // n <= 2^20, r <= 32, p <= 16, <= 512 MiB, n*r*p <= 2^23
  uint32_t max_pbkdf2_c = 10'000'000;
  size_t max_file_bytes = 64 * 1024;
};

// What a file says about itself without decrypting.
struct KeystoreInfo {
  std::optional<chain::Address> address;  // the optional "address" field
  std::string id;                         // "id" (UUID), may be empty
  std::string kdf;                        // "scrypt" or "pbkdf2"
};

// A decrypted key: the 32-byte secret in locked memory and its address.
struct DecryptedKey {
  chain::Address address;
  crypto::LockedBuffer secret;
};

// Parses and validates the file without the password. InvalidArgument naming the field.
absl::StatusOr<KeystoreInfo> InspectKeystore(absl::string_view json, const KdfLimits& limits = KdfLimits());

// Decrypts. InvalidArgument for a malformed file or hostile parameters (nothing derived);
// PermissionDenied "mac mismatch" for a wrong password or a tampered file; ResourceExhausted if
// locked memory cannot be had.
absl::StatusOr<DecryptedKey> DecryptKeystore(absl::string_view json, chain::ByteView password,
                                             const KdfLimits& limits = KdfLimits());

// KDF settings for new files. The default is geth's "standard" scrypt (n=2^18, r=8, p=1).
struct EncryptParams {
  enum class Kdf { kScrypt, kPbkdf2 };
  Kdf kdf = Kdf::kScrypt;
  uint64_t scrypt_n = uint64_t{1} << 18;
  uint32_t scrypt_r = 8;
  uint32_t scrypt_p = 1;
  uint32_t pbkdf2_c = 262144;
};

// A new keystore V3 JSON document for `secret` (32 bytes, a valid secp256k1 scalar) with a
// random salt, IV and UUID, including the lowercase "address" field as geth writes it.
absl::StatusOr<std::string> EncryptKeystore(chain::ByteView secret, chain::ByteView password,
                                            const EncryptParams& params = EncryptParams());

}  // namespace signer::keystore

#endif  // ONCHAIN_KMS_SIGNER_KEYSTORE_KEYSTORE_V3_H_
