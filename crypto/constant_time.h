// Comparisons whose running time does not depend on the data (MACs, tags, tokens).
#ifndef ONCHAIN_KMS_CRYPTO_CONSTANT_TIME_H_
#define ONCHAIN_KMS_CRYPTO_CONSTANT_TIME_H_

#include "crypto/bytes.h"

namespace crypto {

// True if a and b have the same size and bytes. Time depends only on the sizes (CRYPTO_memcmp).
bool ConstantTimeEquals(ByteView a, ByteView b);

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_CONSTANT_TIME_H_
