// Unsigned 256-bit integer for wei amounts, fees and ABI uint256 words.
#ifndef ONCHAIN_KMS_CHAIN_U256_H_
#define ONCHAIN_KMS_CHAIN_U256_H_

#include <array>
#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/bytes.h"

namespace chain {

class U256 {
 public:
  constexpr U256() : limbs_{} {}
  // Lossless widening from uint64_t. Explicit so a negative int never becomes 2^256 - 1 silently.
  explicit constexpr U256(uint64_t v) : limbs_{v, 0, 0, 0} {}
  // Limbs least significant first.
  static constexpr U256 FromLimbs(uint64_t l0, uint64_t l1, uint64_t l2, uint64_t l3) {
    U256 r;
    r.limbs_ = {l0, l1, l2, l3};
    return r;
  }
  static constexpr U256 Max() { return FromLimbs(~0ULL, ~0ULL, ~0ULL, ~0ULL); }

  // Decimal digits only ("0", "1000000000"); leading zeros allowed; no sign, no spaces.
  static absl::StatusOr<U256> FromDecimal(absl::string_view text);
  // A JSON-RPC quantity: "0x" + 1..n hex digits (leading zeros tolerated, value < 2^256).
  static absl::StatusOr<U256> FromHex(absl::string_view text);
  // Big-endian bytes, at most 32 (leading zeros allowed; empty is zero).
  static absl::StatusOr<U256> FromBigEndian(ByteView bytes);
  static U256 FromBytes32(const std::array<uint8_t, 32>& be);

  std::string ToDecimal() const;
  // JSON-RPC quantity: "0x0", "0x1a", never leading zeros.
  std::string ToQuantityHex() const;
  // 32-byte big-endian word (ABI encoding).
  std::array<uint8_t, 32> ToBytes32() const;
  // Shortest big-endian form; empty for zero (RLP integer encoding).
  Bytes ToMinimalBytes() const;

  bool IsZero() const { return (limbs_[0] | limbs_[1] | limbs_[2] | limbs_[3]) == 0; }
  bool FitsUint64() const { return (limbs_[1] | limbs_[2] | limbs_[3]) == 0; }
  // Low 64 bits; check FitsUint64() first when the value must be exact.
  uint64_t Low64() const { return limbs_[0]; }
  // Number of significant bits (0 for zero).
  int BitLength() const;
  const std::array<uint64_t, 4>& limbs() const { return limbs_; }

  // Overflow is an error (OutOfRange), never a wrap.
  static absl::StatusOr<U256> CheckedAdd(const U256& a, const U256& b);
  static absl::StatusOr<U256> CheckedSub(const U256& a, const U256& b);
  static absl::StatusOr<U256> CheckedMul(const U256& a, const U256& b);

  // -1, 0, 1.
  static int Compare(const U256& a, const U256& b);
  friend bool operator==(const U256& a, const U256& b) { return a.limbs_ == b.limbs_; }
  friend bool operator!=(const U256& a, const U256& b) { return !(a == b); }
  friend bool operator<(const U256& a, const U256& b) { return Compare(a, b) < 0; }
  friend bool operator>(const U256& a, const U256& b) { return Compare(a, b) > 0; }
  friend bool operator<=(const U256& a, const U256& b) { return Compare(a, b) <= 0; }
  friend bool operator>=(const U256& a, const U256& b) { return Compare(a, b) >= 0; }
  template <typename H>
  friend H AbslHashValue(H h, const U256& v) {
    return H::combine(std::move(h), v.limbs_[0], v.limbs_[1], v.limbs_[2], v.limbs_[3]);
  }
  friend void PrintTo(const U256& v, std::ostream* os) { *os << v.ToDecimal(); }

 private:
  std::array<uint64_t, 4> limbs_;  // least significant first
};

// Amounts of ether in wei.
using Wei = U256;

}  // namespace chain

#endif  // ONCHAIN_KMS_CHAIN_U256_H_
