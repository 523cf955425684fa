// A 20-byte Ethereum account address with EIP-55 parsing and formatting.
#ifndef ONCHAIN_KMS_CHAIN_ADDRESS_H_
#define ONCHAIN_KMS_CHAIN_ADDRESS_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/bytes.h"

namespace chain {

class Address {
 public:
  static constexpr size_t kSize = 20;

  // The zero address.
  constexpr Address() : bytes_{} {}
  explicit constexpr Address(const std::array<uint8_t, kSize>& bytes) : bytes_(bytes) {}

  // "0x" + 40 hex digits. All-lowercase or all-uppercase digits are accepted as is; mixed case
  // must be a valid EIP-55 checksum, else InvalidArgument "address: bad EIP-55 checksum".
  static absl::StatusOr<Address> Parse(absl::string_view text);
  // Exactly 20 bytes.
  static absl::StatusOr<Address> FromBytes(ByteView bytes);

  // EIP-55 mixed-case form, "0x"-prefixed.
  std::string Checksummed() const;
  // "0x" + 40 lowercase digits.
  std::string Hex() const;

  ByteView bytes() const { return ByteView(bytes_.data(), kSize); }
  const std::array<uint8_t, kSize>& array() const { return bytes_; }
  const uint8_t* data() const { return bytes_.data(); }
  bool IsZero() const;

  friend bool operator==(const Address& a, const Address& b) { return a.bytes_ == b.bytes_; }
  friend bool operator!=(const Address& a, const Address& b) { return !(a == b); }
  friend bool operator<(const Address& a, const Address& b) {
    return std::memcmp(a.bytes_.data(), b.bytes_.data(), kSize) < 0;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Address& v) {
    return H::combine_contiguous(std::move(h), v.bytes_.data(), kSize);
  }
  friend void PrintTo(const Address& v, std::ostream* os) { *os << v.Checksummed(); }

 private:
  std::array<uint8_t, kSize> bytes_;
};

}  // namespace chain

#endif  // ONCHAIN_KMS_CHAIN_ADDRESS_H_
