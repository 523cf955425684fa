#include "crypto/aes_ctr.h"

#include <openssl/evp.h>

#include <climits>

#include "absl/strings/str_cat.h"
#include "crypto/openssl_util.h"

namespace crypto {

absl::Status Aes128Ctr(ByteView key, ByteView iv, ByteView in, absl::Span<uint8_t> out) {
  if (key.size() != kAes128KeySize) {
    return absl::InvalidArgumentError(absl::StrCat("aes-128-ctr: key must be 16 bytes, got ", key.size()));
  }
  if (iv.size() != kAesCtrIvSize) {
    return absl::InvalidArgumentError(absl::StrCat("aes-128-ctr: iv must be 16 bytes, got ", iv.size()));
  }
  if (out.size() != in.size()) return absl::InvalidArgumentError("aes-128-ctr: output size differs from input");
  if (in.size() > static_cast<size_t>(INT_MAX)) return absl::InvalidArgumentError("aes-128-ctr: input too large");
  if (in.empty()) return absl::OkStatus();
  internal::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_ctr(), nullptr, key.data(), iv.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &len, in.data(), static_cast<int>(in.size())) != 1) {
    return internal::OpenSslError(absl::StatusCode::kInternal, "aes-128-ctr failed");
  }
  int tail = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &tail) != 1 || static_cast<size_t>(len + tail) != in.size()) {
    return internal::OpenSslError(absl::StatusCode::kInternal, "aes-128-ctr final failed");
  }
  return absl::OkStatus();
}

}  // namespace crypto
