// Erasing secrets from memory in a way the optimizer cannot remove.
#ifndef ONCHAIN_KMS_CRYPTO_SECURE_WIPE_H_
#define ONCHAIN_KMS_CRYPTO_SECURE_WIPE_H_

#include <cstddef>

namespace crypto {

// Overwrites n bytes at p with zeros (OPENSSL_cleanse). p may be null when n is 0.
void SecureWipe(void* p, size_t n);

// For a secret taken from the environment, after the caller copied it: overwrites the value in
// the environment's own storage (what getenv points to, what /proc/<pid>/environ shows) and
// unsets the variable, so no child process inherits it. Nothing happens when it is not set.
void WipeEnvironmentVariable(const char* name);

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_SECURE_WIPE_H_
