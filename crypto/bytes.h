// Byte containers of the crypto module. Identical to chain::Bytes / chain::ByteView (same
// underlying types), so values pass between the two modules without conversion, while crypto/
// depends on nothing but OpenSSL 3, libsodium and Abseil.
#ifndef ONCHAIN_KMS_CRYPTO_BYTES_H_
#define ONCHAIN_KMS_CRYPTO_BYTES_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace crypto {

using Bytes = std::vector<uint8_t>;
using ByteView = absl::Span<const uint8_t>;

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_BYTES_H_
