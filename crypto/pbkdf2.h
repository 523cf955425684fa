// PBKDF2 (RFC 8018) with HMAC-SHA256, the keystore V3 "pbkdf2" KDF (prf "hmac-sha256").
#ifndef ONCHAIN_KMS_CRYPTO_PBKDF2_H_
#define ONCHAIN_KMS_CRYPTO_PBKDF2_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "crypto/bytes.h"

namespace crypto {

// Derives out.size() bytes (1..1024) into `out` with `iterations` (>= 1) rounds.
// InvalidArgument on bad sizes; callers bound `iterations` against hostile input themselves.
absl::Status Pbkdf2HmacSha256(ByteView password, ByteView salt, uint32_t iterations, absl::Span<uint8_t> out);

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_PBKDF2_H_
