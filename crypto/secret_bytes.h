// A fixed-size byte buffer for key material: wiped when destroyed or overwritten, never copied
// implicitly.
#ifndef ONCHAIN_KMS_CRYPTO_SECRET_BYTES_H_
#define ONCHAIN_KMS_CRYPTO_SECRET_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "crypto/bytes.h"

namespace crypto {

class SecretBytes {
 public:
  SecretBytes() = default;
  // n zero bytes.
  explicit SecretBytes(size_t n) : bytes_(n, 0) {}
  // A copy of `data` (the caller wipes its own copy if it must).
  explicit SecretBytes(ByteView data) : bytes_(data.begin(), data.end()) {}
  ~SecretBytes();

  SecretBytes(SecretBytes&& other) noexcept = default;  // takes the buffer; other is left empty
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  // An explicit copy.
  SecretBytes Clone() const { return SecretBytes(view()); }

  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  ByteView view() const { return ByteView(bytes_.data(), bytes_.size()); }
  absl::Span<uint8_t> span() { return absl::Span<uint8_t>(bytes_.data(), bytes_.size()); }

  // Wipes and empties the buffer.
  void Clear();

 private:
  // Never resized after construction, so the bytes are never left behind by a reallocation.
  std::vector<uint8_t> bytes_;
};

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_SECRET_BYTES_H_
