#include "crypto/secure_wipe.h"

#include <openssl/crypto.h>

namespace crypto {

void SecureWipe(void* p, size_t n) {
  if (p == nullptr || n == 0) return;
  OPENSSL_cleanse(p, n);
}

}  // namespace crypto
