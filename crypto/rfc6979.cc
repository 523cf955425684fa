#include "crypto/rfc6979.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "crypto/openssl_util.h"
#include "crypto/secure_wipe.h"

namespace crypto {
namespace {

// secp256k1 group order n, big-endian.
constexpr uint8_t kOrder[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

[[noreturn]] void Fail() {
  std::fputs("crypto::Secp256k1Rfc6979Nonce: SHA-256 failed (out of memory?)\n", stderr);
  std::abort();
}

// HMAC-SHA-256 of `message` under the 32-byte `key`, into out (which may alias key or message:
// both are read before out is written). Not crypto::HmacSha256: OpenSSL's one-shot HMAC() sets
// up a MAC context per call, and five of them took longer than libsecp256k1's whole nonce. The
// pads are hashed each time: copying a keyed context costs OpenSSL an allocation, which is
// dearer than the two blocks.
void Hmac(EVP_MD_CTX* ctx, const uint8_t* key, const uint8_t* message, size_t length, uint8_t* out) {
  uint8_t pad[64];
  uint8_t inner[32];
  unsigned int len = 0;
  for (size_t i = 0; i < 64; ++i) pad[i] = static_cast<uint8_t>((i < 32 ? key[i] : 0) ^ 0x36);
  bool ok = EVP_DigestInit_ex(ctx, internal::Sha256Md(), nullptr) == 1 && EVP_DigestUpdate(ctx, pad, 64) == 1 &&
            EVP_DigestUpdate(ctx, message, length) == 1 && EVP_DigestFinal_ex(ctx, inner, &len) == 1;
  for (size_t i = 0; i < 64; ++i) pad[i] = static_cast<uint8_t>((i < 32 ? key[i] : 0) ^ 0x5c);
  ok = ok && EVP_DigestInit_ex(ctx, internal::Sha256Md(), nullptr) == 1 && EVP_DigestUpdate(ctx, pad, 64) == 1 &&
       EVP_DigestUpdate(ctx, inner, 32) == 1 && EVP_DigestFinal_ex(ctx, out, &len) == 1;
  SecureWipe(pad, sizeof(pad));
  SecureWipe(inner, sizeof(inner));
  if (!ok) Fail();
}

}  // namespace

void Secp256k1Rfc6979Nonce(ByteView secret, ByteView digest, uint8_t* nonce32) {
  if (secret.size() != 32 || digest.size() != 32) {
    std::fputs("crypto::Secp256k1Rfc6979Nonce: secret and digest must be 32 bytes\n", stderr);
    std::abort();
  }
  // input = V || tag || int2octets(x) || bits2octets(h): 32 + 1 + 32 + 32 bytes.
  uint8_t input[97];
  uint8_t k[32];
  uint8_t v[32];
  std::memset(v, 0x01, 32);
  std::memset(k, 0x00, 32);
  std::memcpy(input + 33, secret.data(), 32);
  // bits2octets: the digest mod n, one conditional subtraction for a 256-bit digest.
  uint8_t* h1 = input + 65;
  std::memcpy(h1, digest.data(), 32);
  if (std::memcmp(h1, kOrder, 32) >= 0) {
    int borrow = 0;
    for (int i = 31; i >= 0; --i) {
      const int d = h1[i] - kOrder[i] - borrow;
      h1[i] = static_cast<uint8_t>(d & 0xff);
      borrow = d < 0 ? 1 : 0;
    }
  }
  const internal::EvpMdCtxPtr owner(EVP_MD_CTX_new());
  EVP_MD_CTX* ctx = owner.get();
  if (ctx == nullptr) Fail();
  std::memcpy(input, v, 32);
  input[32] = 0x00;
  Hmac(ctx, k, input, sizeof(input), k);  // K = HMAC_K(V || 0x00 || x || h1)
  Hmac(ctx, k, v, 32, v);                 // V = HMAC_K(V)
  std::memcpy(input, v, 32);
  input[32] = 0x01;
  Hmac(ctx, k, input, sizeof(input), k);  // K = HMAC_K(V || 0x01 || x || h1)
  Hmac(ctx, k, v, 32, v);                 // V = HMAC_K(V)
  Hmac(ctx, k, v, 32, v);                 // the first candidate: V = HMAC_K(V)
  std::memcpy(nonce32, v, 32);
  SecureWipe(input, sizeof(input));
  SecureWipe(k, sizeof(k));
  SecureWipe(v, sizeof(v));
}

}  // namespace crypto
