// X25519 key agreement (RFC 7748) on raw 32-byte keys.
#ifndef ONCHAIN_KMS_CRYPTO_X25519_H_
#define ONCHAIN_KMS_CRYPTO_X25519_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/status/statusor.h"
#include "crypto/bytes.h"
#include "crypto/secret_bytes.h"

namespace crypto {

inline constexpr size_t kX25519KeySize = 32;

using X25519PublicKey = std::array<uint8_t, kX25519KeySize>;

// A private scalar as 32 raw bytes (any 32 bytes are valid; clamping happens inside the scalar
// multiplication, as RFC 7748 and @noble/curves do). Wiped on destruction.
class X25519PrivateKey {
 public:
  // InvalidArgument unless `raw` is 32 bytes.
  static absl::StatusOr<X25519PrivateKey> FromBytes(ByteView raw);
  // A fresh random key.
  static absl::StatusOr<X25519PrivateKey> Generate();

  X25519PrivateKey(X25519PrivateKey&&) noexcept = default;
  X25519PrivateKey& operator=(X25519PrivateKey&&) noexcept = default;

  ByteView bytes() const { return raw_.view(); }
  X25519PrivateKey Clone() const { return X25519PrivateKey(raw_.Clone()); }

  // The public key: X25519(private, 9).
  absl::StatusOr<X25519PublicKey> PublicKey() const;

 private:
  explicit X25519PrivateKey(SecretBytes raw) : raw_(std::move(raw)) {}
  SecretBytes raw_;
};

struct X25519KeyPair {
  X25519PrivateKey private_key;
  X25519PublicKey public_key;
};

absl::StatusOr<X25519KeyPair> GenerateX25519KeyPair();

// X25519(private, peer): the raw 32-byte shared secret. InvalidArgument when the peer key is of
// small order, i.e. the result would be all zeros (RFC 7748 §6.1 check).
absl::StatusOr<SecretBytes> X25519SharedSecret(const X25519PrivateKey& private_key,
                                               const X25519PublicKey& peer_public_key);

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_X25519_H_
