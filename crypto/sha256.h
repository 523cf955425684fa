// SHA-256 (FIPS 180-4), one-shot.
#ifndef ONCHAIN_KMS_CRYPTO_SHA256_H_
#define ONCHAIN_KMS_CRYPTO_SHA256_H_

#include <array>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "crypto/bytes.h"

namespace crypto {

using Sha256Digest = std::array<uint8_t, 32>;

// The digest of `data`. SHA-256 in OpenSSL's default provider fails only if memory runs out;
// that aborts the process rather than burden every caller with a Status.
Sha256Digest Sha256(ByteView data);
// The digest of the bytes of `text` (no decoding).
Sha256Digest Sha256(absl::string_view text);

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_SHA256_H_
