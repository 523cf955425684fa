#include "crypto/pbkdf2.h"

#include <openssl/evp.h>

#include <climits>

#include "crypto/openssl_util.h"

namespace crypto {

absl::Status Pbkdf2HmacSha256(ByteView password, ByteView salt, uint32_t iterations, absl::Span<uint8_t> out) {
  if (iterations == 0 || iterations > static_cast<uint32_t>(INT_MAX)) {
    return absl::InvalidArgumentError("pbkdf2: iterations must be in [1, 2^31)");
  }
  if (out.empty() || out.size() > 1024) return absl::InvalidArgumentError("pbkdf2: output must be 1..1024 bytes");
  if (password.size() > static_cast<size_t>(INT_MAX) || salt.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("pbkdf2: input too large");
  }
  // OpenSSL wants a non-null pointer even for an empty password.
  static const uint8_t kEmpty = 0;
  const char* pass = reinterpret_cast<const char*>(password.empty() ? &kEmpty : password.data());
  if (PKCS5_PBKDF2_HMAC(pass, static_cast<int>(password.size()), salt.empty() ? &kEmpty : salt.data(),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(out.size()), out.data()) != 1) {
    return internal::OpenSslError(absl::StatusCode::kInternal, "pbkdf2 failed");
  }
  return absl::OkStatus();
}

}  // namespace crypto
