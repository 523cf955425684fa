#include "crypto/x25519.h"

#include <sodium.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "crypto/random.h"
#include "crypto/sodium_init.h"

// libsodium's X25519 rather than OpenSSL's EVP: OpenSSL 3 derives the public key again on every
// EVP_PKEY_new_raw_private_key, so an encryption (public key + shared secret) cost three scalar
// multiplications plus the provider's key objects; here it costs two (bench/env_encryption_bench).
namespace crypto {

absl::StatusOr<X25519PrivateKey> X25519PrivateKey::FromBytes(ByteView raw) {
  if (raw.size() != kX25519KeySize) {
    return absl::InvalidArgumentError(absl::StrCat("x25519: private key must be 32 bytes, got ", raw.size()));
  }
  return X25519PrivateKey(SecretBytes(raw));
}

absl::StatusOr<X25519PrivateKey> X25519PrivateKey::Generate() {
  SecretBytes raw(kX25519KeySize);
  absl::Status s = RandomFill(raw.span());
  if (!s.ok()) return s;
  return X25519PrivateKey(std::move(raw));
}

absl::StatusOr<X25519PublicKey> X25519PrivateKey::PublicKey() const {
  if (absl::Status s = internal::SodiumReady(); !s.ok()) return s;
  X25519PublicKey pub{};
  // Clamps the scalar as RFC 7748 does; fails only for an all-zero result, which the base point
  // cannot give.
  if (crypto_scalarmult_curve25519_base(pub.data(), raw_.data()) != 0) {
    return absl::InternalError("x25519: cannot derive public key");
  }
  return pub;
}

absl::StatusOr<X25519KeyPair> GenerateX25519KeyPair() {
  absl::StatusOr<X25519PrivateKey> priv = X25519PrivateKey::Generate();
  if (!priv.ok()) return priv.status();
  absl::StatusOr<X25519PublicKey> pub = priv->PublicKey();
  if (!pub.ok()) return pub.status();
  return X25519KeyPair{std::move(*priv), *pub};
}

absl::StatusOr<SecretBytes> X25519SharedSecret(const X25519PrivateKey& private_key,
                                               const X25519PublicKey& peer_public_key) {
  if (absl::Status s = internal::SodiumReady(); !s.ok()) return s;
  SecretBytes shared(kX25519KeySize);
  // -1 exactly for the all-zero result (a small-order peer point), checked in constant time.
  if (crypto_scalarmult_curve25519(shared.data(), private_key.bytes().data(), peer_public_key.data()) != 0) {
    return absl::InvalidArgumentError("x25519: peer public key is of small order (all-zero shared secret)");
  }
  return shared;
}

}  // namespace crypto
