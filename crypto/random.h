// Cryptographically secure random bytes (OpenSSL's DRBG, RAND_bytes).
#ifndef ONCHAIN_KMS_CRYPTO_RANDOM_H_
#define ONCHAIN_KMS_CRYPTO_RANDOM_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/bytes.h"

namespace crypto {

// n random bytes. Internal error if the DRBG cannot be seeded.
absl::StatusOr<Bytes> RandomBytes(size_t n);

// Fills `out` with random bytes.
absl::Status RandomFill(absl::Span<uint8_t> out);

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_RANDOM_H_
