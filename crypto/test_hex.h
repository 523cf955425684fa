// Test-only hex helpers for crypto/'s own tests. crypto/ sits below chain/ and may not depend on
// it, so this is the one hex codec outside chain/hex.h; it is testonly and private to crypto/, and
// production code everywhere formats and parses hex through chain/hex.h.
#ifndef ONCHAIN_KMS_CRYPTO_TEST_HEX_H_
#define ONCHAIN_KMS_CRYPTO_TEST_HEX_H_

#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "crypto/bytes.h"

namespace crypto::testing {

// Aborts on malformed input: test vectors are literals.
inline Bytes FromHex(absl::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    std::abort();
  };
  if (hex.size() % 2 != 0) std::abort();
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return out;
}

inline std::string ToHex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

}  // namespace crypto::testing

#endif  // ONCHAIN_KMS_CRYPTO_TEST_HEX_H_
