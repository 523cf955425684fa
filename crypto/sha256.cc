#include "crypto/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace crypto {

namespace {

// Fetched once: EVP_sha256() makes every EVP_Digest look the implementation up in the provider
// again (OpenSSL 3), which cost more than hashing a 600-byte audit record.
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

}  // namespace

Sha256Digest Sha256(ByteView data) {
  Sha256Digest out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, Sha256Md(), nullptr) != 1 || len != out.size()) {
    std::fputs("crypto::Sha256: EVP_Digest failed (out of memory?)\n", stderr);
    std::abort();
  }
  return out;
}

Sha256Digest Sha256(absl::string_view text) {
  return Sha256(ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace crypto
