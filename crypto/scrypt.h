// scrypt (RFC 7914) through libsodium's low-level crypto_pwhash_scryptsalsa208sha256_ll.
//
// Not OpenSSL's EVP_PBE_scrypt: OpenSSL refuses N >= 2^(16*r) (so it cannot open the standard
// Web3 Secret Storage vector n=2^18, r=1, p=8) and caps memory at 32 MiB unless told otherwise.
// libsodium's reference implementation has neither limit, so this function enforces the bounds
// callers pass in ScryptLimits *before* any memory is allocated or any work is done.
#ifndef ONCHAIN_KMS_CRYPTO_SCRYPT_H_
#define ONCHAIN_KMS_CRYPTO_SCRYPT_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "crypto/bytes.h"

namespace crypto {

// Upper bounds on the work a call may do; the defaults admit geth's "standard" keystores
// (n=2^18, r=8, p=1: 256 MiB) and the spec vector (n=2^18, r=1, p=8), and nothing much bigger.
struct ScryptLimits {
  uint64_t max_n = uint64_t{1} << 20;
  uint32_t max_r = 32;
  uint32_t max_p = 16;
  uint64_t max_memory_bytes = uint64_t{512} << 20;  // 128 * r * n (+ 128 * r * p)
  uint64_t max_cost = uint64_t{1} << 23;            // n * r * p: proportional to CPU time
};

// Checks the parameters against `limits`: n a power of two >= 2, r and p >= 1, all within the
// limits. InvalidArgument naming the parameter otherwise.
absl::Status ValidateScryptParams(uint64_t n, uint32_t r, uint32_t p, const ScryptLimits& limits);

// Derives out.size() bytes (1..1024). Validates first (nothing is allocated for hostile input).
absl::Status Scrypt(ByteView password, ByteView salt, uint64_t n, uint32_t r, uint32_t p, absl::Span<uint8_t> out,
                    const ScryptLimits& limits = ScryptLimits());

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_SCRYPT_H_
