// Internal to crypto/: RAII owners for OpenSSL objects and the OpenSSL error queue as a Status.
#ifndef ONCHAIN_KMS_CRYPTO_OPENSSL_UTIL_H_
#define ONCHAIN_KMS_CRYPTO_OPENSSL_UTIL_H_

#include <openssl/evp.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace crypto::internal {

struct EvpCipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, EvpCipherCtxFree>;

// Drains this thread's OpenSSL error queue into the message: "<what>: <openssl reason>".
absl::Status OpenSslError(absl::StatusCode code, absl::string_view what);

// Discards this thread's OpenSSL error queue (after a failure that was handled).
void ClearOpenSslErrors();

}  // namespace crypto::internal

#endif  // ONCHAIN_KMS_CRYPTO_OPENSSL_UTIL_H_
