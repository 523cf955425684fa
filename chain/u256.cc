#include "chain/u256.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "chain/hex.h"

namespace chain {
namespace {

using u128 = unsigned __int128;

std::string Printable(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f && c != '\'') return std::string(1, c);
  return absl::StrFormat("\\x%02x", u);
}

// a = a * m + add; returns false on overflow.
bool MulSmallAdd(std::array<uint64_t, 4>& a, uint64_t m, uint64_t add) {
  uint64_t carry = add;
  for (auto& limb : a) {
    const u128 t = static_cast<u128>(limb) * m + carry;
    limb = static_cast<uint64_t>(t);
    carry = static_cast<uint64_t>(t >> 64);
  }
  return carry == 0;
}

// a = a / d; returns the remainder.
uint64_t DivSmall(std::array<uint64_t, 4>& a, uint64_t d) {
  u128 rem = 0;
  for (int i = 3; i >= 0; --i) {
    const u128 cur = (rem << 64) | a[i];
    a[i] = static_cast<uint64_t>(cur / d);
    rem = cur % d;
  }
  return static_cast<uint64_t>(rem);
}

}  // namespace

absl::StatusOr<U256> U256::FromDecimal(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("u256: empty decimal string");
  U256 r;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError(absl::StrCat("u256: bad character '", Printable(c), "' at position ", i));
    }
    if (!MulSmallAdd(r.limbs_, 10, static_cast<uint64_t>(c - '0'))) {
      return absl::OutOfRangeError("u256: decimal value overflows 256 bits");
    }
  }
  return r;
}

absl::StatusOr<U256> U256::FromHex(absl::string_view text) {
  if (!HasHexPrefix(text)) return absl::InvalidArgumentError("u256: missing 0x prefix");
  absl::string_view digits = text.substr(2);
  if (digits.empty()) return absl::InvalidArgumentError("u256: empty hex quantity");
  U256 r;
  size_t significant = 0;
  for (size_t i = 0; i < digits.size(); ++i) {
    const char c = digits[i];
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("u256: bad character '", Printable(c), "' at position ", i + 2));
    }
    if (significant == 0 && v == 0) continue;  // leading zero
    if (++significant > 64) return absl::OutOfRangeError("u256: hex value overflows 256 bits");
    r.limbs_[3] = (r.limbs_[3] << 4) | (r.limbs_[2] >> 60);
    r.limbs_[2] = (r.limbs_[2] << 4) | (r.limbs_[1] >> 60);
    r.limbs_[1] = (r.limbs_[1] << 4) | (r.limbs_[0] >> 60);
    r.limbs_[0] = (r.limbs_[0] << 4) | static_cast<uint64_t>(v);
  }
  return r;
}

absl::StatusOr<U256> U256::FromBigEndian(ByteView bytes) {
  if (bytes.size() > 32) {
    return absl::OutOfRangeError(absl::StrCat("u256: ", bytes.size(), " bytes do not fit in 256 bits"));
  }
  U256 r;
  for (uint8_t b : bytes) {
    r.limbs_[3] = (r.limbs_[3] << 8) | (r.limbs_[2] >> 56);
    r.limbs_[2] = (r.limbs_[2] << 8) | (r.limbs_[1] >> 56);
    r.limbs_[1] = (r.limbs_[1] << 8) | (r.limbs_[0] >> 56);
    r.limbs_[0] = (r.limbs_[0] << 8) | b;
  }
  return r;
}

U256 U256::FromBytes32(const std::array<uint8_t, 32>& be) {
  U256 r;
  for (int limb = 0; limb < 4; ++limb) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | be[(3 - limb) * 8 + i];
    r.limbs_[limb] = v;
  }
  return r;
}

std::string U256::ToDecimal() const {
  if (IsZero()) return "0";
  std::array<uint64_t, 4> a = limbs_;
  std::string out;
  constexpr uint64_t kChunk = 10000000000000000000ULL;  // 10^19, the largest power in 64 bits
  while ((a[0] | a[1] | a[2] | a[3]) != 0) {
    uint64_t rem = DivSmall(a, kChunk);
    const bool last = (a[0] | a[1] | a[2] | a[3]) == 0;
    for (int i = 0; i < 19 && (!last || rem != 0); ++i) {
      out.push_back(static_cast<char>('0' + rem % 10));
      rem /= 10;
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string U256::ToQuantityHex() const {
  if (IsZero()) return "0x0";
  const std::string full = ToHex(ToBytes32(), false);
  const size_t first = full.find_first_not_of('0');
  return absl::StrCat("0x", full.substr(first));
}

std::array<uint8_t, 32> U256::ToBytes32() const {
  std::array<uint8_t, 32> out;
  for (int limb = 0; limb < 4; ++limb) {
    uint64_t v = limbs_[limb];
    for (int i = 7; i >= 0; --i) {
      out[(3 - limb) * 8 + i] = static_cast<uint8_t>(v);
      v >>= 8;
    }
  }
  return out;
}

Bytes U256::ToMinimalBytes() const {
  const std::array<uint8_t, 32> full = ToBytes32();
  size_t first = 0;
  while (first < 32 && full[first] == 0) ++first;
  return Bytes(full.begin() + first, full.end());
}

int U256::BitLength() const {
  for (int i = 3; i >= 0; --i) {
    if (limbs_[i] != 0) return i * 64 + 64 - __builtin_clzll(limbs_[i]);
  }
  return 0;
}

absl::StatusOr<U256> U256::CheckedAdd(const U256& a, const U256& b) {
  U256 r;
  uint64_t carry = 0;
  for (int i = 0; i < 4; ++i) {
    const u128 t = static_cast<u128>(a.limbs_[i]) + b.limbs_[i] + carry;
    r.limbs_[i] = static_cast<uint64_t>(t);
    carry = static_cast<uint64_t>(t >> 64);
  }
  if (carry != 0) return absl::OutOfRangeError("u256: addition overflows 256 bits");
  return r;
}

absl::StatusOr<U256> U256::CheckedSub(const U256& a, const U256& b) {
  if (a < b) return absl::OutOfRangeError("u256: subtraction underflows");
  U256 r;
  uint64_t borrow = 0;
  for (int i = 0; i < 4; ++i) {
    const uint64_t bi = b.limbs_[i];
    r.limbs_[i] = a.limbs_[i] - bi - borrow;
    borrow = (a.limbs_[i] < bi || (a.limbs_[i] == bi && borrow)) ? 1 : 0;
  }
  return r;
}

absl::StatusOr<U256> U256::CheckedMul(const U256& a, const U256& b) {
  // Schoolbook 4x4 limbs into 8; any non-zero high limb means overflow.
  uint64_t prod[8] = {};
  for (int i = 0; i < 4; ++i) {
    uint64_t carry = 0;
    for (int j = 0; j < 4; ++j) {
      const u128 t = static_cast<u128>(a.limbs_[i]) * b.limbs_[j] + prod[i + j] + carry;
      prod[i + j] = static_cast<uint64_t>(t);
      carry = static_cast<uint64_t>(t >> 64);
    }
    prod[i + 4] = carry;
  }
  if ((prod[4] | prod[5] | prod[6] | prod[7]) != 0) {
    return absl::OutOfRangeError("u256: multiplication overflows 256 bits");
  }
  return FromLimbs(prod[0], prod[1], prod[2], prod[3]);
}

int U256::Compare(const U256& a, const U256& b) {
  for (int i = 3; i >= 0; --i) {
    if (a.limbs_[i] != b.limbs_[i]) return a.limbs_[i] < b.limbs_[i] ? -1 : 1;
  }
  return 0;
}

}  // namespace chain
