#include "crypto/x25519.h"

#include <openssl/evp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "crypto/openssl_util.h"
#include "crypto/random.h"

namespace crypto {
namespace {

using internal::EvpPkeyCtxPtr;
using internal::EvpPkeyPtr;
using internal::OpenSslError;

absl::StatusOr<EvpPkeyPtr> PrivatePkey(ByteView raw) {
  EvpPkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, raw.data(), raw.size()));
  if (pkey == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "x25519: cannot load private key");
  }
  return pkey;
}

bool AllZero(ByteView b) {
  uint8_t acc = 0;
  for (uint8_t x : b) acc |= x;
  return acc == 0;
}

}  // namespace

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
  absl::StatusOr<EvpPkeyPtr> pkey = PrivatePkey(raw_.view());
  if (!pkey.ok()) return pkey.status();
  X25519PublicKey pub{};
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey->get(), pub.data(), &len) != 1 || len != pub.size()) {
    return OpenSslError(absl::StatusCode::kInternal, "x25519: cannot derive public key");
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
  absl::StatusOr<EvpPkeyPtr> priv = PrivatePkey(private_key.bytes());
  if (!priv.ok()) return priv.status();
  EvpPkeyPtr peer(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public_key.data(), peer_public_key.size()));
  if (peer == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "x25519: cannot load peer public key");
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(priv->get(), nullptr));
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "x25519: derive setup failed");
  }
  SecretBytes shared(kX25519KeySize);
  size_t len = shared.size();
  if (EVP_PKEY_derive(ctx.get(), shared.data(), &len) != 1) {
    // OpenSSL refuses exactly the all-zero result (a small-order peer point).
    internal::ClearOpenSslErrors();
    return absl::InvalidArgumentError("x25519: peer public key is of small order (all-zero shared secret)");
  }
  if (len != kX25519KeySize) {
    return absl::InternalError("x25519: unexpected shared secret length");
  }
  if (AllZero(shared.view())) {
    return absl::InvalidArgumentError("x25519: peer public key is of small order (all-zero shared secret)");
  }
  return shared;
}

}  // namespace crypto
