// ECDSA over secp256k1 through libsecp256k1: deterministic (RFC 6979) low-s recoverable
// signatures, public key -> address, and recovery.
//
// Secrets are passed as a 32-byte view; this module never copies them (the caller owns storage
// and wiping, see crypto/).
#ifndef ONCHAIN_KMS_CHAIN_SECP256K1_H_
#define ONCHAIN_KMS_CHAIN_SECP256K1_H_

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/hash32.h"

namespace chain {

struct RecoverableSignature {
  std::array<uint8_t, 32> r{};
  std::array<uint8_t, 32> s{};
  uint8_t recovery_id = 0;  // 0 or 1: parity of R.y (Ethereum's y_parity; v = 27 + id in EIP-191)

  // r || s || recovery_id.
  std::array<uint8_t, 65> ToBytes() const;
  // r || s || v with v in {0, 1, 27, 28}.
  static absl::StatusOr<RecoverableSignature> FromBytes(ByteView rsv);
  // s <= n/2 (EIP-2).
  bool IsLowS() const;

  friend bool operator==(const RecoverableSignature&, const RecoverableSignature&) = default;
};

// OK if `secret` is 32 bytes encoding a scalar in [1, n-1]; InvalidArgument otherwise.
absl::Status ValidateSecret(ByteView secret);

// RFC 6979 deterministic signature of a 32-byte digest, low-s, recovery id 0 or 1.
absl::StatusOr<RecoverableSignature> SignHash(ByteView secret, const Hash32& hash);

// Writes RFC 6979's first candidate nonce for (secret, digest) to nonce32: the value
// libsecp256k1's secp256k1_nonce_function_rfc6979 gives for attempt 0 without extra data.
using Rfc6979FirstNonce = void (*)(ByteView secret, ByteView digest, uint8_t* nonce32);

// SignHash's signature (the same bytes), returned only after a self-check against faults (bit
// flips, a corrupted library) that costs one fixed-base multiplication, ~0.8 of a signature,
// where verifying costs ~1.3 (bench/README.md "Stop 31"): SignatureMatchesNonce with the nonce
// the signing drew. Internal if the check fails (no signature is returned).
// `first_nonce`, if given, computes the first attempt's nonce (the signer's runs on OpenSSL's
// SHA-256: crypto/rfc6979.h); it is called here with exactly this secret and digest, so that it
// cannot be handed a nonce of another message; later attempts (p ~ 2^-128) and a null
// `first_nonce` use libsecp256k1's own. A function that is not RFC 6979 would still sign, with
// nonces that may repeat: it must be tested equal to libsecp256k1's (crypto/rfc6979_test.cc).
absl::StatusOr<RecoverableSignature> SignHashSelfChecked(ByteView secret, const Hash32& hash,
                                                         Rfc6979FirstNonce first_nonce = nullptr);

// The self-check on its own: true iff s is low (EIP-2), R = nonce·G has x = r and a y whose
// parity is the recovery id (flipped when the low-s rule negated s), and
// s·nonce ≡ ±(z + r·d) (mod n) with z = hash mod n, d = secret: the verification equation of
// d's public key, the recovery id included. Scalar products are constant-time; temporaries are
// wiped. Exposed for tests that hand it faulty values.
bool SignatureMatchesNonce(ByteView secret, const Hash32& hash, ByteView nonce, const RecoverableSignature& sig);

// 65-byte uncompressed public key 0x04 || X || Y.
absl::StatusOr<std::array<uint8_t, 65>> PublicKeyFromSecret(ByteView secret);
absl::StatusOr<Address> AddressFromSecret(ByteView secret);

// keccak256(X || Y)[12:]. The point is not validated.
Address AddressFromPublicKey(const std::array<uint8_t, 64>& xy);
// 64 bytes X || Y, or 65 bytes 0x04 || X || Y; the point must be on the curve.
absl::StatusOr<Address> AddressFromPublicKey(ByteView uncompressed);

// A public key decoded once into libsecp256k1's own form, so that checking a signature against
// it costs one curve operation (no parsing, no recovery, no hashing). Immutable; thread-safe.
class PublicKey {
 public:
  static absl::StatusOr<PublicKey> FromSecret(ByteView secret);
  // 65 bytes 0x04 || X || Y; the point must be on the curve.
  static absl::StatusOr<PublicKey> Parse(ByteView uncompressed);

  // 65-byte uncompressed form 0x04 || X || Y.
  std::array<uint8_t, 65> Uncompressed() const;
  Address address() const { return address_; }

  // True iff `sig`'s (r, s) is a valid low-s ECDSA signature of `hash` by this key: one
  // double-scalar multiplication (secp256k1_ecdsa_verify). The recovery id is not covered
  // (checking it needs R, i.e. a recovery); it must be 0 or 1.
  bool Verifies(const Hash32& hash, const RecoverableSignature& sig) const;

 private:
  PublicKey() = default;
  std::array<uint8_t, 64> parsed_{};  // secp256k1_pubkey's opaque bytes
  Address address_;
};

// Signer of `hash`. Rejects high-s (EIP-2), a recovery id other than 0/1, and r or s out of
// [1, n-1].
absl::StatusOr<Address> Recover(const Hash32& hash, const RecoverableSignature& sig);
absl::StatusOr<std::array<uint8_t, 65>> RecoverPublicKey(const Hash32& hash, const RecoverableSignature& sig);

}  // namespace chain

#endif  // ONCHAIN_KMS_CHAIN_SECP256K1_H_
