#include "crypto/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

#include "crypto/openssl_util.h"

namespace crypto {

Sha256Digest Sha256(ByteView data) {
  Sha256Digest out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, internal::Sha256Md(), nullptr) != 1 || len != out.size()) {
    std::fputs("crypto::Sha256: EVP_Digest failed (out of memory?)\n", stderr);
    std::abort();
  }
  return out;
}

Sha256Digest Sha256(absl::string_view text) {
  return Sha256(ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace crypto
