// RFC 6979 deterministic ECDSA nonces for secp256k1 with HMAC-SHA-256, on OpenSSL's SHA-256
// (which uses the CPU's SHA extensions where they exist).
#ifndef ONCHAIN_KMS_CRYPTO_RFC6979_H_
#define ONCHAIN_KMS_CRYPTO_RFC6979_H_

#include <cstdint>

#include "crypto/bytes.h"

namespace crypto {

// The first candidate k of RFC 6979 section 3.2 for the 32-byte `secret` and the 32-byte
// `digest` (reduced mod n first, as bits2octets says), written to nonce32: exactly what
// libsecp256k1's secp256k1_nonce_function_rfc6979 returns for attempt 0 without extra data
// (rfc6979_test compares them), in 1.6 µs instead of its portable C's 4.0 (bench/README.md
// "Stop 31"). A candidate out of [1, n-1] (p ~ 2^-128) is the caller's to reject. The HMAC state
// is wiped before returning; `nonce32` is the caller's to wipe. Aborts only if memory runs out.
void Secp256k1Rfc6979Nonce(ByteView secret, ByteView digest, uint8_t* nonce32);

}  // namespace crypto

#endif  // ONCHAIN_KMS_CRYPTO_RFC6979_H_
