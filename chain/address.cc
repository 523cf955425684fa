#include "chain/address.h"

#include "absl/strings/str_cat.h"
#include "chain/hex.h"
#include "chain/keccak.h"

namespace chain {
namespace {

// EIP-55: hex digit i is upper-case iff nibble i of keccak(lowercase hex without 0x) >= 8.
std::string Checksum(absl::string_view lower_digits) {
  const Hash32 h = Keccak256(lower_digits);
  std::string out = "0x";
  out.reserve(2 + lower_digits.size());
  for (size_t i = 0; i < lower_digits.size(); ++i) {
    char c = lower_digits[i];
    const uint8_t nibble = (i % 2 == 0) ? (h.data()[i / 2] >> 4) : (h.data()[i / 2] & 0xf);
    if (c >= 'a' && c <= 'f' && nibble >= 8) c = static_cast<char>(c - 'a' + 'A');
    out.push_back(c);
  }
  return out;
}

}  // namespace

absl::StatusOr<Address> Address::Parse(absl::string_view text) {
  Address a;
  absl::Status st = FromHexInto(text, absl::MakeSpan(a.bytes_), HexPrefix::kRequired, "address");
  if (!st.ok()) return st;
  bool has_lower = false, has_upper = false;
  for (char c : text.substr(2)) {
    has_lower |= (c >= 'a' && c <= 'f');
    has_upper |= (c >= 'A' && c <= 'F');
  }
  if (has_lower && has_upper && Checksum(ToHex(a.bytes(), false)) != absl::StrCat("0x", text.substr(2))) {
    return absl::InvalidArgumentError("address: bad EIP-55 checksum");
  }
  return a;
}

absl::StatusOr<Address> Address::FromBytes(ByteView bytes) {
  if (bytes.size() != kSize) {
    return absl::InvalidArgumentError(absl::StrCat("address: want 20 bytes, got ", bytes.size()));
  }
  Address a;
  std::memcpy(a.bytes_.data(), bytes.data(), kSize);
  return a;
}

std::string Address::Checksummed() const { return Checksum(ToHex(bytes(), false)); }

std::string Address::Hex() const { return ToHex(bytes()); }

bool Address::IsZero() const {
  for (uint8_t b : bytes_) {
    if (b != 0) return false;
  }
  return true;
}

}  // namespace chain
