// Internal to crypto/: libsodium initialised once before its first use (sodium_init picks the
// fastest implementation of each primitive for this CPU and seeds its RNG).
#ifndef ONCHAIN_KMS_CRYPTO_SODIUM_INIT_H_
#define ONCHAIN_KMS_CRYPTO_SODIUM_INIT_H_

#include "absl/status/status.h"

namespace crypto::internal {

// Thread-safe and cheap after the first call; Internal only if the OS RNG is missing.
absl::Status SodiumReady();

}  // namespace crypto::internal

#endif  // ONCHAIN_KMS_CRYPTO_SODIUM_INIT_H_
