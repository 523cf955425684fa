#include "crypto/secret_bytes.h"

#include <utility>

#include "crypto/secure_wipe.h"

namespace crypto {

SecretBytes::~SecretBytes() { Clear(); }

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Clear();
    bytes_ = std::move(other.bytes_);
    other.bytes_.clear();
  }
  return *this;
}

void SecretBytes::Clear() {
  SecureWipe(bytes_.data(), bytes_.size());
  bytes_.clear();
}

}  // namespace crypto
