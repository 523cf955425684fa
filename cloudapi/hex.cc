#include "cloudapi/hex.h"

#include "absl/strings/str_cat.h"

namespace cloudapi {
namespace {

int Nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::string_view StripPrefix(absl::string_view hex, size_t* offset) {
  *offset = 0;
  if (hex.size() >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
    *offset = 2;
    hex.remove_prefix(2);
  }
  return hex;
}

}  // namespace

std::string HexEncode(crypto::ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

absl::StatusOr<crypto::Bytes> HexDecode(absl::string_view hex, absl::string_view what) {
  size_t offset = 0;
  absl::string_view digits = StripPrefix(hex, &offset);
  if (digits.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": odd number of hex digits (", digits.size(), ")"));
  }
  crypto::Bytes out(digits.size() / 2);
  for (size_t i = 0; i < digits.size(); ++i) {
    int v = Nibble(digits[i]);
    if (v < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": bad hex character at position ", offset + i));
    }
    out[i / 2] = static_cast<uint8_t>(i % 2 == 0 ? v << 4 : out[i / 2] | v);
  }
  return out;
}

absl::StatusOr<crypto::Bytes> HexDecodeExact(absl::string_view hex, size_t size,
                                             absl::string_view what) {
  size_t offset = 0;
  absl::string_view digits = StripPrefix(hex, &offset);
  if (digits.size() != 2 * size) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": want ", 2 * size, " hex digits, got ", digits.size()));
  }
  return HexDecode(hex, what);
}

}  // namespace cloudapi
