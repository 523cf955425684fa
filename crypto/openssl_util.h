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

struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }  // clears the digest's state
};
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree>;

// SHA-256, fetched from the default provider once: EVP_sha256() makes every digest look the
// implementation up again (OpenSSL 3), which costs more than hashing a 600-byte audit record.
const EVP_MD* Sha256Md();

// Drains this thread's OpenSSL error queue into the message: "<what>: <openssl reason>".
absl::Status OpenSslError(absl::StatusCode code, absl::string_view what);

// Discards this thread's OpenSSL error queue (after a failure that was handled).
void ClearOpenSslErrors();

}  // namespace crypto::internal

#endif  // ONCHAIN_KMS_CRYPTO_OPENSSL_UTIL_H_
