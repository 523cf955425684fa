#include "crypto/hmac.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace crypto {

Sha256Digest HmacSha256(ByteView key, ByteView message) {
  Sha256Digest out{};
  unsigned int len = 0;
  // OpenSSL 3 refuses a null key pointer, which an empty span may carry; an empty key is valid.
  static constexpr uint8_t kEmpty = 0;
  if (key.empty()) key = ByteView(&kEmpty, 0);
  if (message.empty()) message = ByteView(&kEmpty, 0);
  // HMAC() copies the key into its own context and cleanses it there.
  if (key.size() > INT_MAX ||
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), message.data(), message.size(), out.data(), &len) ==
          nullptr ||
      len != out.size()) {
    std::fputs("crypto::HmacSha256: HMAC failed (out of memory?)\n", stderr);
    std::abort();
  }
  return out;
}

Sha256Digest HmacSha256(absl::string_view key, absl::string_view message) {
  return HmacSha256(ByteView(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
                    ByteView(reinterpret_cast<const uint8_t*>(message.data()), message.size()));
}

}  // namespace crypto
