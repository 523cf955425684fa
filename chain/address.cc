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

// Checksum() of an address's bytes, remembered per thread for the last few addresses: a signer
// or orchestrator thread spells the same handful of addresses (its keys, the contracts it calls)
// several times per request, and each spelling costs a Keccak-256.
std::string ChecksummedOf(const std::array<uint8_t, Address::kSize>& bytes) {
  struct Entry {
    std::array<uint8_t, Address::kSize> bytes;
    std::string checksummed;  // empty: unused
  };
  constexpr size_t kEntries = 8;
  thread_local std::array<Entry, kEntries> cache;
  thread_local size_t next = 0;
  for (const Entry& e : cache) {
    if (!e.checksummed.empty() && e.bytes == bytes) return e.checksummed;
  }
  Entry& e = cache[next];
  next = (next + 1) % kEntries;
  e.bytes = bytes;
  e.checksummed = Checksum(ToHex(ByteView(bytes), false));
  return e.checksummed;
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
  if (has_lower && has_upper && absl::string_view(ChecksummedOf(a.bytes_)).substr(2) != text.substr(2)) {
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

std::string Address::Checksummed() const { return ChecksummedOf(bytes_); }

std::string Address::Hex() const { return ToHex(bytes()); }

bool Address::IsZero() const {
  for (uint8_t b : bytes_) {
    if (b != 0) return false;
  }
  return true;
}

}  // namespace chain
