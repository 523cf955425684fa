// A 32-byte value: Keccak-256 digests, transaction hashes, bytes32 ABI words.
#ifndef ONCHAIN_KMS_CHAIN_HASH32_H_
#define ONCHAIN_KMS_CHAIN_HASH32_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/bytes.h"

namespace chain {

class Hash32 {
 public:
  static constexpr size_t kSize = 32;

  // All zero.
  constexpr Hash32() : bytes_{} {}
  explicit constexpr Hash32(const std::array<uint8_t, kSize>& bytes) : bytes_(bytes) {}

  // Exactly 64 hex digits, with or without 0x, either case.
  static absl::StatusOr<Hash32> FromHex(absl::string_view hex);
  // Exactly 32 bytes.
  static absl::StatusOr<Hash32> FromBytes(ByteView bytes);

  // "0x" + 64 lowercase digits.
  std::string Hex() const;
  ByteView bytes() const { return ByteView(bytes_.data(), kSize); }
  const std::array<uint8_t, kSize>& array() const { return bytes_; }
  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  bool IsZero() const;

  friend bool operator==(const Hash32& a, const Hash32& b) { return a.bytes_ == b.bytes_; }
  friend bool operator!=(const Hash32& a, const Hash32& b) { return !(a == b); }
  friend bool operator<(const Hash32& a, const Hash32& b) {
    return std::memcmp(a.bytes_.data(), b.bytes_.data(), kSize) < 0;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Hash32& v) {
    return H::combine_contiguous(std::move(h), v.bytes_.data(), kSize);
  }
  // For gtest messages.
  friend void PrintTo(const Hash32& v, std::ostream* os);

 private:
  std::array<uint8_t, kSize> bytes_;
};

}  // namespace chain

#endif  // ONCHAIN_KMS_CHAIN_HASH32_H_
