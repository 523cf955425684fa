#include "crypto/scrypt.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"
#include "crypto/sodium_init.h"

namespace crypto {

absl::Status ValidateScryptParams(uint64_t n, uint32_t r, uint32_t p, const ScryptLimits& limits) {
  if (n < 2 || (n & (n - 1)) != 0)
    return absl::InvalidArgumentError(absl::StrCat("scrypt: n must be a power of two >= 2, got ", n));
  if (n > limits.max_n)
    return absl::InvalidArgumentError(absl::StrCat("scrypt: n ", n, " exceeds the limit ", limits.max_n));
  if (r < 1 || r > limits.max_r)
    return absl::InvalidArgumentError(absl::StrCat("scrypt: r must be in [1, ", limits.max_r, "], got ", r));
  if (p < 1 || p > limits.max_p)
    return absl::InvalidArgumentError(absl::StrCat("scrypt: p must be in [1, ", limits.max_p, "], got ", p));
  // n <= 2^20, r <= 2^5 (by the checks above for sane limits) keep these products far from
  // overflow; still compute in a way that cannot wrap for any uint32 r, p and n <= 2^32.
  const unsigned __int128 memory =
      static_cast<unsigned __int128>(128) * r * n + static_cast<unsigned __int128>(128) * r * p;
  if (memory > limits.max_memory_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("scrypt: parameters need ", static_cast<uint64_t>(memory >> 20),
                                                   " MiB, more than the limit of ", limits.max_memory_bytes >> 20,
                                                   " MiB"));
  }
  const unsigned __int128 cost = static_cast<unsigned __int128>(n) * r * p;
  if (cost > limits.max_cost) {
    return absl::InvalidArgumentError(absl::StrCat("scrypt: cost n*r*p exceeds the limit ", limits.max_cost));
  }
  return absl::OkStatus();
}

absl::Status Scrypt(ByteView password, ByteView salt, uint64_t n, uint32_t r, uint32_t p, absl::Span<uint8_t> out,
                    const ScryptLimits& limits) {
  if (absl::Status s = ValidateScryptParams(n, r, p, limits); !s.ok()) return s;
  if (out.empty() || out.size() > 1024) return absl::InvalidArgumentError("scrypt: output must be 1..1024 bytes");
  if (absl::Status s = internal::SodiumReady(); !s.ok()) return s;
  static const uint8_t kEmpty = 0;
  if (crypto_pwhash_scryptsalsa208sha256_ll(password.empty() ? &kEmpty : password.data(), password.size(),
                                            salt.empty() ? &kEmpty : salt.data(), salt.size(), n, r, p, out.data(),
                                            out.size()) != 0) {
    return absl::ResourceExhaustedError("scrypt: derivation failed (out of memory?)");
  }
  return absl::OkStatus();
}

}  // namespace crypto
