#include "test/cloudsim/hex.h"

#include "absl/strings/ascii.h"
#include "chain/address.h"

namespace cloudsim {
namespace {

int Nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::string_view StripPrefix(absl::string_view s) {
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  return s;
}

}  // namespace

std::string HexEncode(absl::Span<const uint8_t> data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

std::optional<Bytes> HexDecode(absl::string_view hex) {
  hex = StripPrefix(hex);
  if (hex.size() % 2 != 0) return std::nullopt;
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = Nibble(hex[2 * i]);
    int lo = Nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return out;
}

bool IsHexOfSize(absl::string_view s, size_t nbytes) {
  s = StripPrefix(s);
  if (s.size() != nbytes * 2) return false;
  for (char c : s) {
    if (Nibble(c) < 0) return false;
  }
  return true;
}

std::optional<std::string> NormalizeAddress(absl::string_view s) {
  if (!IsHexOfSize(s, 20)) return std::nullopt;
  return absl::AsciiStrToLower(StripPrefix(s));
}

std::optional<std::string> NormalizeBytes32(absl::string_view s) {
  if (!IsHexOfSize(s, 32)) return std::nullopt;
  return absl::AsciiStrToLower(StripPrefix(s));
}

std::string ChecksumAddress(absl::string_view addr) {
  std::optional<std::string> lower = NormalizeAddress(addr);
  if (!lower) return std::string(addr);
  absl::StatusOr<chain::Address> a = chain::Address::Parse("0x" + *lower);
  return a.ok() ? a->Checksummed() : std::string(addr);
}

}  // namespace cloudsim
