#include "chain/secp256k1.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <string.h>  // explicit_bzero
#include <sys/random.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "chain/keccak.h"

namespace chain {
namespace {

// One context for the process. After randomization (blinding against side channels) it is
// only read, which libsecp256k1 documents as safe from many threads at once.
const secp256k1_context* Context() {
  static const secp256k1_context* const ctx = [] {
    secp256k1_context* c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    unsigned char seed[32];
    // Blinding is hardening, not correctness: if the kernel cannot give randomness now, the
    // context still signs correctly.
    if (getrandom(seed, sizeof(seed), 0) == static_cast<ssize_t>(sizeof(seed))) {
      (void)secp256k1_context_randomize(c, seed);
    }
    std::memset(seed, 0, sizeof(seed));
    return c;
  }();
  return ctx;
}

// secp256k1 group order n / 2, big-endian: s must not exceed it (EIP-2).
constexpr std::array<uint8_t, 32> kHalfOrder = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                0xff, 0xff, 0xff, 0xff, 0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4,
                                                0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

absl::StatusOr<secp256k1_pubkey> PubkeyFromSecret(ByteView secret) {
  absl::Status st = ValidateSecret(secret);
  if (!st.ok()) return st;
  secp256k1_pubkey pub;
  if (!secp256k1_ec_pubkey_create(Context(), &pub, secret.data())) {
    return absl::InternalError("secp256k1: public key derivation failed");
  }
  return pub;
}

std::array<uint8_t, 65> Serialize(const secp256k1_pubkey& pub) {
  std::array<uint8_t, 65> out;
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(Context(), out.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED);
  return out;
}

Address AddressOf(const std::array<uint8_t, 65>& uncompressed) {
  const Hash32 h = Keccak256(ByteView(uncompressed).subspan(1));
  return *Address::FromBytes(h.bytes().subspan(12));
}

}  // namespace

std::array<uint8_t, 65> RecoverableSignature::ToBytes() const {
  std::array<uint8_t, 65> out;
  std::memcpy(out.data(), r.data(), 32);
  std::memcpy(out.data() + 32, s.data(), 32);
  out[64] = recovery_id;
  return out;
}

absl::StatusOr<RecoverableSignature> RecoverableSignature::FromBytes(ByteView rsv) {
  if (rsv.size() != 65) {
    return absl::InvalidArgumentError(absl::StrCat("signature: want 65 bytes r||s||v, got ", rsv.size()));
  }
  uint8_t v = rsv[64];
  if (v == 27 || v == 28) v -= 27;
  if (v > 1) {
    return absl::InvalidArgumentError(absl::StrCat("signature: v must be 0, 1, 27 or 28, got ", rsv[64]));
  }
  RecoverableSignature sig;
  std::memcpy(sig.r.data(), rsv.data(), 32);
  std::memcpy(sig.s.data(), rsv.data() + 32, 32);
  sig.recovery_id = v;
  return sig;
}

bool RecoverableSignature::IsLowS() const { return std::memcmp(s.data(), kHalfOrder.data(), 32) <= 0; }

absl::Status ValidateSecret(ByteView secret) {
  if (secret.size() != 32) {
    return absl::InvalidArgumentError(absl::StrCat("secret key: want 32 bytes, got ", secret.size()));
  }
  if (!secp256k1_ec_seckey_verify(Context(), secret.data())) {
    return absl::InvalidArgumentError("secret key: not in [1, n-1] of secp256k1");
  }
  return absl::OkStatus();
}

namespace {

// What the nonce function below reads and keeps.
struct KeptNonce {
  Rfc6979FirstNonce first = nullptr;  // nullptr: libsecp256k1's own for every attempt
  uint8_t nonce[32];                  // the last one drawn: the one the signature used
};

// RFC 6979 (libsecp256k1's default nonce function, or KeptNonce::first for attempt 0), keeping
// the nonce it returns in `data` (a KeptNonce).
int Rfc6979KeepingNonce(unsigned char* nonce32, const unsigned char* msg32, const unsigned char* key32,
                        const unsigned char* algo16, void* data, unsigned int attempt) {
  auto* kept = static_cast<KeptNonce*>(data);
  int ok = 1;
  if (attempt == 0 && kept->first != nullptr && algo16 == nullptr) {
    kept->first(ByteView(key32, 32), ByteView(msg32, 32), nonce32);
  } else {
    ok = secp256k1_nonce_function_rfc6979(nonce32, msg32, key32, algo16, nullptr, attempt);
  }
  if (ok) std::memcpy(kept->nonce, nonce32, 32);
  return ok;
}

absl::StatusOr<RecoverableSignature> Sign(ByteView secret, const Hash32& hash, secp256k1_nonce_function nonce_fn,
                                          void* nonce_data) {
  absl::Status st = ValidateSecret(secret);
  if (!st.ok()) return st;
  secp256k1_ecdsa_recoverable_signature rsig;
  // libsecp256k1 always produces low-s.
  if (!secp256k1_ecdsa_sign_recoverable(Context(), &rsig, hash.data(), secret.data(), nonce_fn, nonce_data)) {
    return absl::InternalError("secp256k1: signing failed");
  }
  RecoverableSignature sig;
  uint8_t compact[64];
  int recid = 0;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(Context(), compact, &recid, &rsig);
  std::memcpy(sig.r.data(), compact, 32);
  std::memcpy(sig.s.data(), compact + 32, 32);
  // r < n < p, so R.x never overflowed and the id is the parity alone.
  if (recid < 0 || recid > 1) return absl::InternalError("secp256k1: unexpected recovery id");
  sig.recovery_id = static_cast<uint8_t>(recid);
  return sig;
}

// secp256k1 group order n, big-endian.
constexpr std::array<uint8_t, 32> kOrder = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                            0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                            0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

// x mod n for x < 2^256 < 2n: one conditional subtraction, as libsecp256k1 reduces a digest.
std::array<uint8_t, 32> ReduceModOrder(const std::array<uint8_t, 32>& x) {
  if (std::memcmp(x.data(), kOrder.data(), 32) < 0) return x;
  std::array<uint8_t, 32> out;
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    const int d = x[static_cast<size_t>(i)] - kOrder[static_cast<size_t>(i)] - borrow;
    out[static_cast<size_t>(i)] = static_cast<uint8_t>(d & 0xff);
    borrow = d < 0 ? 1 : 0;
  }
  return out;
}

// Equality whose time does not depend on where the bytes differ (the values derive from the key).
bool Equal32(const uint8_t* a, const uint8_t* b) {
  uint8_t diff = 0;
  for (size_t i = 0; i < 32; ++i) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

absl::StatusOr<RecoverableSignature> SignHash(ByteView secret, const Hash32& hash) {
  return Sign(secret, hash, nullptr, nullptr);  // nullptr = libsecp256k1's default, RFC 6979
}

absl::StatusOr<RecoverableSignature> SignHashSelfChecked(ByteView secret, const Hash32& hash,
                                                         Rfc6979FirstNonce first_nonce) {
  KeptNonce kept{.first = first_nonce};
  absl::StatusOr<RecoverableSignature> sig = Sign(secret, hash, Rfc6979KeepingNonce, &kept);
  const bool checked = sig.ok() && SignatureMatchesNonce(secret, hash, ByteView(kept.nonce, 32), *sig);
  explicit_bzero(kept.nonce, sizeof(kept.nonce));  // the nonce and the signature give the key
  if (!sig.ok()) return sig.status();
  if (!checked) return absl::InternalError("signature self-check failed: it does not match the key and its nonce");
  return sig;
}

bool SignatureMatchesNonce(ByteView secret, const Hash32& hash, ByteView nonce, const RecoverableSignature& sig) {
  // High s is a fault too: the signing normalizes s, and nodes reject the other (EIP-2).
  if (secret.size() != 32 || nonce.size() != 32 || sig.recovery_id > 1 || !sig.IsLowS()) return false;
  const secp256k1_context* ctx = Context();
  // R = k·G: the fixed-base multiplication the signing did, done again with fresh blinding.
  secp256k1_pubkey point;
  if (!secp256k1_ec_pubkey_create(ctx, &point, nonce.data())) return false;
  uint8_t r_point[33];
  size_t r_len = sizeof(r_point);
  secp256k1_ec_pubkey_serialize(ctx, r_point, &r_len, &point, SECP256K1_EC_COMPRESSED);
  const bool r_ok = std::memcmp(r_point + 1, sig.r.data(), 32) == 0;  // R.x = r (R.x >= n has p ~ 2^-127)
  const uint8_t y_odd = r_point[0] & 1;

  // s·k against z + r·d; the low-s rule may have negated s.
  std::array<uint8_t, 32> lhs = sig.s;
  std::array<uint8_t, 32> rhs;
  std::memcpy(rhs.data(), secret.data(), 32);
  std::array<uint8_t, 32> digest;
  std::memcpy(digest.data(), hash.data(), 32);
  const std::array<uint8_t, 32> z = ReduceModOrder(digest);
  const bool z_zero = Equal32(z.data(), std::array<uint8_t, 32>{}.data());
  bool ok = r_ok && secp256k1_ec_seckey_tweak_mul(ctx, lhs.data(), nonce.data()) == 1 &&
            secp256k1_ec_seckey_tweak_mul(ctx, rhs.data(), sig.r.data()) == 1 &&
            (z_zero || secp256k1_ec_seckey_tweak_add(ctx, rhs.data(), z.data()) == 1);
  bool negated = false;
  if (ok && !Equal32(lhs.data(), rhs.data())) {
    negated = true;
    ok = secp256k1_ec_seckey_negate(ctx, rhs.data()) == 1 && Equal32(lhs.data(), rhs.data());
  }
  explicit_bzero(lhs.data(), lhs.size());
  explicit_bzero(rhs.data(), rhs.size());
  return ok && sig.recovery_id == (y_odd ^ (negated ? 1 : 0));
}

absl::StatusOr<std::array<uint8_t, 65>> PublicKeyFromSecret(ByteView secret) {
  absl::StatusOr<secp256k1_pubkey> pub = PubkeyFromSecret(secret);
  if (!pub.ok()) return pub.status();
  return Serialize(*pub);
}

absl::StatusOr<Address> AddressFromSecret(ByteView secret) {
  absl::StatusOr<std::array<uint8_t, 65>> pub = PublicKeyFromSecret(secret);
  if (!pub.ok()) return pub.status();
  return AddressOf(*pub);
}

Address AddressFromPublicKey(const std::array<uint8_t, 64>& xy) {
  const Hash32 h = Keccak256(ByteView(xy));
  return *Address::FromBytes(h.bytes().subspan(12));
}

absl::StatusOr<Address> AddressFromPublicKey(ByteView uncompressed) {
  std::array<uint8_t, 65> buf;
  if (uncompressed.size() == 64) {
    buf[0] = 0x04;
    std::memcpy(buf.data() + 1, uncompressed.data(), 64);
  } else if (uncompressed.size() == 65 && uncompressed[0] == 0x04) {
    std::memcpy(buf.data(), uncompressed.data(), 65);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("public key: want 64 bytes X||Y or 65 bytes 0x04||X||Y, got ", uncompressed.size()));
  }
  secp256k1_pubkey pub;
  if (!secp256k1_ec_pubkey_parse(Context(), &pub, buf.data(), buf.size())) {
    return absl::InvalidArgumentError("public key: not a point on secp256k1");
  }
  return AddressOf(buf);
}

absl::StatusOr<std::array<uint8_t, 65>> RecoverPublicKey(const Hash32& hash, const RecoverableSignature& sig) {
  if (sig.recovery_id > 1) {
    return absl::InvalidArgumentError(absl::StrCat("signature: recovery id must be 0 or 1, got ", sig.recovery_id));
  }
  if (!sig.IsLowS()) {
    return absl::InvalidArgumentError("signature: s is in the upper half of the order (EIP-2)");
  }
  uint8_t compact[64];
  std::memcpy(compact, sig.r.data(), 32);
  std::memcpy(compact + 32, sig.s.data(), 32);
  secp256k1_ecdsa_recoverable_signature rsig;
  if (!secp256k1_ecdsa_recoverable_signature_parse_compact(Context(), &rsig, compact, sig.recovery_id)) {
    return absl::InvalidArgumentError("signature: r or s is not below the group order");
  }
  secp256k1_pubkey pub;
  if (!secp256k1_ecdsa_recover(Context(), &pub, &rsig, hash.data())) {
    return absl::InvalidArgumentError("signature: no public key recovers from it");
  }
  return Serialize(pub);
}

absl::StatusOr<PublicKey> PublicKey::FromSecret(ByteView secret) {
  absl::StatusOr<std::array<uint8_t, 65>> pub = PublicKeyFromSecret(secret);
  if (!pub.ok()) return pub.status();
  return Parse(*pub);
}

absl::StatusOr<PublicKey> PublicKey::Parse(ByteView uncompressed) {
  if (uncompressed.size() != 65 || uncompressed[0] != 0x04) {
    return absl::InvalidArgumentError(
        absl::StrCat("public key: want 65 bytes 0x04||X||Y, got ", uncompressed.size(), " bytes"));
  }
  secp256k1_pubkey pub;
  static_assert(sizeof(pub.data) == sizeof(PublicKey::parsed_));
  if (!secp256k1_ec_pubkey_parse(Context(), &pub, uncompressed.data(), uncompressed.size())) {
    return absl::InvalidArgumentError("public key: not a point on secp256k1");
  }
  PublicKey key;
  std::memcpy(key.parsed_.data(), pub.data, sizeof(pub.data));
  std::array<uint8_t, 65> bytes;
  std::memcpy(bytes.data(), uncompressed.data(), bytes.size());
  key.address_ = AddressOf(bytes);
  return key;
}

std::array<uint8_t, 65> PublicKey::Uncompressed() const {
  secp256k1_pubkey pub;
  std::memcpy(pub.data, parsed_.data(), sizeof(pub.data));
  return Serialize(pub);
}

bool PublicKey::Verifies(const Hash32& hash, const RecoverableSignature& sig) const {
  if (sig.recovery_id > 1) return false;
  uint8_t compact[64];
  std::memcpy(compact, sig.r.data(), 32);
  std::memcpy(compact + 32, sig.s.data(), 32);
  secp256k1_ecdsa_signature parsed;
  if (!secp256k1_ecdsa_signature_parse_compact(Context(), &parsed, compact)) return false;
  secp256k1_pubkey pub;
  std::memcpy(pub.data, parsed_.data(), sizeof(pub.data));
  // Rejects high-s itself (libsecp256k1 verifies lower-s signatures only), and r or s of 0.
  return secp256k1_ecdsa_verify(Context(), &parsed, hash.data(), &pub) == 1;
}

absl::StatusOr<Address> Recover(const Hash32& hash, const RecoverableSignature& sig) {
  absl::StatusOr<std::array<uint8_t, 65>> pub = RecoverPublicKey(hash, sig);
  if (!pub.ok()) return pub.status();
  return AddressOf(*pub);
}

}  // namespace chain
