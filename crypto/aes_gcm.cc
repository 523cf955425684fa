#include "crypto/aes_gcm.h"

#include <openssl/evp.h>

#include <climits>

#include "absl/strings/str_cat.h"
#include "crypto/openssl_util.h"
#include "crypto/secure_wipe.h"

namespace crypto {
namespace {

using internal::EvpCipherCtxPtr;
using internal::OpenSslError;

// OpenSSL takes int lengths; keep a margin for the tag.
constexpr size_t kMaxLength = INT_MAX - 64;

absl::StatusOr<const EVP_CIPHER*> CipherFor(ByteView key, ByteView iv) {
  if (iv.size() != kAesGcmIvSize) {
    return absl::InvalidArgumentError(absl::StrCat("aes-gcm: iv must be ", kAesGcmIvSize, " bytes, got ", iv.size()));
  }
  switch (key.size()) {
    case 16:
      return EVP_aes_128_gcm();
    case 32:
      return EVP_aes_256_gcm();
    default:
      return absl::InvalidArgumentError(absl::StrCat("aes-gcm: key must be 16 or 32 bytes, got ", key.size()));
  }
}

}  // namespace

absl::StatusOr<Bytes> AesGcmEncrypt(ByteView key, ByteView iv, ByteView plaintext, ByteView aad) {
  absl::StatusOr<const EVP_CIPHER*> cipher = CipherFor(key, iv);
  if (!cipher.ok()) return cipher.status();
  if (plaintext.size() > kMaxLength || aad.size() > kMaxLength) {
    return absl::InvalidArgumentError("aes-gcm: input too large");
  }
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr || EVP_EncryptInit_ex(ctx.get(), *cipher, nullptr, key.data(), iv.data()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "aes-gcm: encrypt init failed");
  }
  int len = 0;
  if (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "aes-gcm: aad failed");
  }
  Bytes out(plaintext.size() + kAesGcmTagSize);
  size_t written = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(), static_cast<int>(plaintext.size())) != 1) {
      return OpenSslError(absl::StatusCode::kInternal, "aes-gcm: encrypt failed");
    }
    written = static_cast<size_t>(len);
  }
  if (EVP_EncryptFinal_ex(ctx.get(), out.data() + written, &len) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "aes-gcm: encrypt final failed");
  }
  written += static_cast<size_t>(len);
  if (written != plaintext.size() || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG,
                                                         static_cast<int>(kAesGcmTagSize), out.data() + written) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "aes-gcm: get tag failed");
  }
  return out;
}

absl::StatusOr<Bytes> AesGcmDecrypt(ByteView key, ByteView iv, ByteView ciphertext_and_tag, ByteView aad) {
  absl::StatusOr<const EVP_CIPHER*> cipher = CipherFor(key, iv);
  if (!cipher.ok()) return cipher.status();
  if (ciphertext_and_tag.size() < kAesGcmTagSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("aes-gcm: input of ", ciphertext_and_tag.size(), " bytes is shorter than the tag"));
  }
  if (ciphertext_and_tag.size() > kMaxLength || aad.size() > kMaxLength) {
    return absl::InvalidArgumentError("aes-gcm: input too large");
  }
  const size_t ct_size = ciphertext_and_tag.size() - kAesGcmTagSize;
  // EVP_CTRL_GCM_SET_TAG takes a non-const pointer; give it a copy.
  uint8_t tag[kAesGcmTagSize];
  for (size_t i = 0; i < kAesGcmTagSize; ++i) tag[i] = ciphertext_and_tag[ct_size + i];

  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr || EVP_DecryptInit_ex(ctx.get(), *cipher, nullptr, key.data(), iv.data()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "aes-gcm: decrypt init failed");
  }
  int len = 0;
  if (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "aes-gcm: aad failed");
  }
  Bytes out(ct_size);
  size_t written = 0;
  if (ct_size > 0) {
    if (EVP_DecryptUpdate(ctx.get(), out.data(), &len, ciphertext_and_tag.data(), static_cast<int>(ct_size)) != 1) {
      SecureWipe(out.data(), out.size());
      return OpenSslError(absl::StatusCode::kInternal, "aes-gcm: decrypt failed");
    }
    written = static_cast<size_t>(len);
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kAesGcmTagSize), tag) != 1) {
    SecureWipe(out.data(), out.size());
    return OpenSslError(absl::StatusCode::kInternal, "aes-gcm: set tag failed");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + written, &len) != 1) {
    // Unauthenticated plaintext must not survive.
    SecureWipe(out.data(), out.size());
    internal::ClearOpenSslErrors();
    return absl::InvalidArgumentError("aes-gcm: authentication failed");
  }
  return out;
}

}  // namespace crypto
