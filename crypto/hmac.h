// HMAC-SHA256 (RFC 2104, FIPS 198-1), one-shot.
#ifndef ONCHAIN_KMS_CRYPTO_HMAC_H_
#define ONCHAIN_KMS_CRYPTO_HMAC_H_

#include "absl/strings/string_view.h"
#include "crypto/bytes.h"
#include "crypto/sha256.h"

namespace crypto {

// The MAC of `message` under `key` (any length; keys longer than 64 bytes are hashed first).
// Like Sha256, it fails only if memory runs out, and then aborts.
Sha256Digest HmacSha256(ByteView key, ByteView message);
// The same over the bytes of `key` and `message` (no decoding).
Sha256Digest HmacSha256(absl::string_view key, absl::string_view message);

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_HMAC_H_
