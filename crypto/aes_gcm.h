// AES-GCM (NIST SP 800-38D) with a 96-bit IV and a 128-bit tag appended to the ciphertext, the
// layout WebCrypto produces.
#ifndef ONCHAIN_KMS_CRYPTO_AES_GCM_H_
#define ONCHAIN_KMS_CRYPTO_AES_GCM_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "crypto/bytes.h"

namespace crypto {

inline constexpr size_t kAesGcmIvSize = 12;
inline constexpr size_t kAesGcmTagSize = 16;

// ciphertext || tag. The key is 16 (AES-128) or 32 (AES-256) bytes, the IV 12 bytes and must
// never repeat under one key. InvalidArgument on bad sizes.
absl::StatusOr<Bytes> AesGcmEncrypt(ByteView key, ByteView iv, ByteView plaintext, ByteView aad = {});

// The plaintext of ciphertext || tag. InvalidArgument on bad sizes and when the tag does not
// verify ("aes-gcm: authentication failed"); no unauthenticated plaintext is ever returned.
absl::StatusOr<Bytes> AesGcmDecrypt(ByteView key, ByteView iv, ByteView ciphertext_and_tag, ByteView aad = {});

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_AES_GCM_H_
