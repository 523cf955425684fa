#include "crypto/secure_wipe.h"

#include <openssl/crypto.h>

#include <cstdlib>
#include <cstring>

namespace crypto {

void SecureWipe(void* p, size_t n) {
  if (p == nullptr || n == 0) return;
  OPENSSL_cleanse(p, n);
}

void WipeEnvironmentVariable(const char* name) {
  char* value = std::getenv(name);
  if (value == nullptr) return;
  SecureWipe(value, std::strlen(value));
  ::unsetenv(name);
}

}  // namespace crypto
