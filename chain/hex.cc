#include "chain/hex.h"

#include <array>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace chain {
namespace {

constexpr char kDigits[] = "0123456789abcdef";

// Each character's value, -1 for a non-hex one. A table rather than three range tests per
// digit: contract code (eth_getCode: kilobytes in every deploy's pre-check) decodes ~3x faster.
constexpr std::array<int8_t, 256> kNibbles = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<int8_t>(i);
  for (int i = 0; i < 6; ++i) t['a' + i] = t['A' + i] = static_cast<int8_t>(10 + i);
  return t;
}();

int Nibble(char c) { return kNibbles[static_cast<unsigned char>(c)]; }

std::string Printable(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f && c != '\'') return std::string(1, c);
  return absl::StrFormat("\\x%02x", u);
}

// Strips the prefix according to the policy; `offset` receives the prefix length.
absl::StatusOr<absl::string_view> StripPrefix(absl::string_view hex, HexPrefix prefix, absl::string_view what,
                                              size_t& offset) {
  const bool has = HasHexPrefix(hex);
  if (prefix == HexPrefix::kRequired && !has) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": missing 0x prefix"));
  }
  if (prefix == HexPrefix::kForbidden && has) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": unexpected 0x prefix"));
  }
  offset = has ? 2 : 0;
  return hex.substr(offset);
}

absl::Status DecodeDigits(absl::string_view digits, size_t offset, uint8_t* out, absl::string_view what) {
  for (size_t i = 0; i < digits.size(); i += 2) {
    const int hi = Nibble(digits[i]);
    const int lo = Nibble(digits[i + 1]);
    if (hi < 0 || lo < 0) {
      const size_t bad = hi < 0 ? i : i + 1;
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": bad character '", Printable(digits[bad]), "' at position ", offset + bad));
    }
    out[i / 2] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return absl::OkStatus();
}

}  // namespace

bool HasHexPrefix(absl::string_view s) { return s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'); }

std::string ToHex(ByteView bytes, bool prefix) {
  std::string out;
  out.resize((prefix ? 2 : 0) + bytes.size() * 2);
  size_t j = 0;
  if (prefix) {
    out[j++] = '0';
    out[j++] = 'x';
  }
  for (uint8_t b : bytes) {
    out[j++] = kDigits[b >> 4];
    out[j++] = kDigits[b & 0xf];
  }
  return out;
}

absl::StatusOr<Bytes> FromHex(absl::string_view hex, HexPrefix prefix) {
  size_t offset = 0;
  absl::StatusOr<absl::string_view> digits = StripPrefix(hex, prefix, "hex", offset);
  if (!digits.ok()) return digits.status();
  if (digits->size() % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("hex: odd number of digits (", digits->size(), ")"));
  }
  Bytes out(digits->size() / 2);
  absl::Status st = DecodeDigits(*digits, offset, out.data(), "hex");
  if (!st.ok()) return st;
  return out;
}

absl::Status FromHexInto(absl::string_view hex, absl::Span<uint8_t> out, HexPrefix prefix, absl::string_view what) {
  size_t offset = 0;
  absl::StatusOr<absl::string_view> digits = StripPrefix(hex, prefix, what, offset);
  if (!digits.ok()) return digits.status();
  if (digits->size() != out.size() * 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": want ", out.size() * 2, " hex digits, got ", digits->size()));
  }
  return DecodeDigits(*digits, offset, out.data(), what);
}

}  // namespace chain
