// Erasing secrets from memory in a way the optimizer cannot remove.
#ifndef ONCHAIN_KMS_CRYPTO_SECURE_WIPE_H_
#define ONCHAIN_KMS_CRYPTO_SECURE_WIPE_H_

#include <cstddef>

namespace crypto {

// Overwrites n bytes at p with zeros (OPENSSL_cleanse). p may be null when n is 0.
void SecureWipe(void* p, size_t n);

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_SECURE_WIPE_H_
