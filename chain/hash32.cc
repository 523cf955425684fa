#include "chain/hash32.h"

#include <ostream>

#include "absl/strings/str_cat.h"
#include "chain/hex.h"

namespace chain {

absl::StatusOr<Hash32> Hash32::FromHex(absl::string_view hex) {
  Hash32 h;
  absl::Status st = FromHexInto(hex, absl::MakeSpan(h.bytes_), HexPrefix::kOptional, "hash32");
  if (!st.ok()) return st;
  return h;
}

absl::StatusOr<Hash32> Hash32::FromBytes(ByteView bytes) {
  if (bytes.size() != kSize) {
    return absl::InvalidArgumentError(absl::StrCat("hash32: want 32 bytes, got ", bytes.size()));
  }
  Hash32 h;
  std::memcpy(h.bytes_.data(), bytes.data(), kSize);
  return h;
}

std::string Hash32::Hex() const { return ToHex(bytes()); }

bool Hash32::IsZero() const {
  for (uint8_t b : bytes_) {
    if (b != 0) return false;
  }
  return true;
}

void PrintTo(const Hash32& v, std::ostream* os) { *os << v.Hex(); }

}  // namespace chain
