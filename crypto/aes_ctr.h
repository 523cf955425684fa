// AES-128 in counter mode (NIST SP 800-38A), as Web3 Secret Storage (keystore V3) uses it:
// a 16-byte key, a 16-byte initial counter block ("iv") incremented as a 128-bit big-endian
// integer. Encryption and decryption are the same operation.
#ifndef ONCHAIN_KMS_CRYPTO_AES_CTR_H_
#define ONCHAIN_KMS_CRYPTO_AES_CTR_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "crypto/bytes.h"

namespace crypto {

inline constexpr size_t kAes128KeySize = 16;
inline constexpr size_t kAesCtrIvSize = 16;

// out = in XOR keystream(key, iv). `out` must be exactly in.size() bytes (it may be secret
// storage the caller owns, e.g. a LockedBuffer). InvalidArgument on bad sizes.
absl::Status Aes128Ctr(ByteView key, ByteView iv, ByteView in, absl::Span<uint8_t> out);

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_AES_CTR_H_
