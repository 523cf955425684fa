#include "chain/secp256k1.h"

#include <gtest/gtest.h>
#include <secp256k1.h>

#include <thread>
#include <vector>

#include "chain/hex.h"
#include "chain/keccak.h"
#include "chain/u256.h"

namespace chain {
namespace {

Bytes H(absl::string_view hex) { return *FromHex(hex); }

// anvil / hardhat default account #0 (a public test key).
const Bytes kAnvilKey = H("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
constexpr char kAnvilAddress[] = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
// secp256k1 group order n.
constexpr char kOrder[] = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

TEST(Secp256k1, AnvilKeyAddress) {
  auto addr = AddressFromSecret(kAnvilKey);
  ASSERT_TRUE(addr.ok()) << addr.status();
  EXPECT_EQ(addr->Checksummed(), kAnvilAddress);
  // Public key from `cast wallet public-key`.
  auto pub = PublicKeyFromSecret(kAnvilKey);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(ToHex(*pub),
            "0x048318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed753547f11ca8696646f2"
            "f3acb08e31016afac23e630c5d11f59f61fef57b0d2aa5");
  std::array<uint8_t, 64> xy;
  std::copy(pub->begin() + 1, pub->end(), xy.begin());
  EXPECT_EQ(AddressFromPublicKey(xy).Checksummed(), kAnvilAddress);
  EXPECT_EQ(AddressFromPublicKey(ByteView(*pub))->Checksummed(), kAnvilAddress);
  EXPECT_EQ(AddressFromPublicKey(ByteView(xy))->Checksummed(), kAnvilAddress);
}

TEST(Secp256k1, EdgeSecrets) {
  // 1 and n-1 are the extreme valid scalars (`cast wallet address`).
  EXPECT_EQ(AddressFromSecret(H(std::string(63, '0') + "1"))->Checksummed(),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
  EXPECT_EQ(AddressFromSecret(H("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140"))->Checksummed(),
            "0x80C0dbf239224071c59dD8970ab9d542E3414aB2");
  for (const std::string& bad : {std::string(64, '0'), std::string(kOrder), std::string(64, 'f')}) {
    absl::Status st = ValidateSecret(H(bad));
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(st.message(), "secret key: not in [1, n-1] of secp256k1");
    EXPECT_FALSE(SignHash(H(bad), Hash32()).ok());
    EXPECT_FALSE(AddressFromSecret(H(bad)).ok());
  }
  EXPECT_EQ(ValidateSecret(Bytes(31, 1)).message(), "secret key: want 32 bytes, got 31");
  EXPECT_EQ(SignHash(Bytes(33, 1), Hash32()).status().message(), "secret key: want 32 bytes, got 33");
}

TEST(Secp256k1, SignIsDeterministicLowSAndRecovers) {
  for (int i = 0; i < 50; ++i) {
    const Hash32 h = Keccak256(absl::string_view(std::to_string(i)));
    auto a = SignHash(kAnvilKey, h);
    auto b = SignHash(kAnvilKey, h);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, *b);  // RFC 6979: same key and digest, same signature
    EXPECT_TRUE(a->IsLowS());
    EXPECT_LE(a->recovery_id, 1);
    auto who = Recover(h, *a);
    ASSERT_TRUE(who.ok()) << who.status();
    EXPECT_EQ(who->Checksummed(), kAnvilAddress);
    // Another digest recovers someone else.
    auto other = Recover(Keccak256(absl::string_view("x")), *a);
    if (other.ok()) EXPECT_NE(other->Checksummed(), kAnvilAddress);
  }
}

TEST(Secp256k1, HighSRejected) {
  const Hash32 h = Keccak256(absl::string_view("high s"));
  RecoverableSignature sig = *SignHash(kAnvilKey, h);
  // (r, n - s, id ^ 1) is the same signature in high-s form: valid ECDSA, rejected by EIP-2.
  const U256 n = *U256::FromHex(std::string("0x") + kOrder);
  sig.s = U256::CheckedSub(n, U256::FromBytes32(sig.s))->ToBytes32();
  sig.recovery_id ^= 1;
  EXPECT_FALSE(sig.IsLowS());
  EXPECT_EQ(Recover(h, sig).status().message(), "signature: s is in the upper half of the order (EIP-2)");
}

TEST(Secp256k1, MalformedSignatures) {
  const Hash32 h = Keccak256(absl::string_view("m"));
  RecoverableSignature sig = *SignHash(kAnvilKey, h);
  RecoverableSignature bad = sig;
  bad.recovery_id = 2;
  EXPECT_EQ(Recover(h, bad).status().message(), "signature: recovery id must be 0 or 1, got 2");
  bad = sig;
  bad.r = U256::Max().ToBytes32();  // r >= n
  EXPECT_EQ(Recover(h, bad).status().message(), "signature: r or s is not below the group order");
  bad = sig;
  bad.r = {};
  EXPECT_EQ(Recover(h, bad).status().message(), "signature: no public key recovers from it");
  EXPECT_EQ(RecoverableSignature::FromBytes(Bytes(64)).status().message(), "signature: want 65 bytes r||s||v, got 64");
  Bytes rsv(65);
  rsv[64] = 29;
  EXPECT_EQ(RecoverableSignature::FromBytes(rsv).status().message(), "signature: v must be 0, 1, 27 or 28, got 29");
  const auto bytes = sig.ToBytes();
  EXPECT_EQ(*RecoverableSignature::FromBytes(bytes), sig);
}

TEST(Secp256k1, PublicKeyValidation) {
  EXPECT_EQ(AddressFromPublicKey(ByteView(Bytes(33, 2))).status().message(),
            "public key: want 64 bytes X||Y or 65 bytes 0x04||X||Y, got 33");
  Bytes not_on_curve(65, 1);
  not_on_curve[0] = 0x04;
  EXPECT_EQ(AddressFromPublicKey(ByteView(not_on_curve)).status().message(), "public key: not a point on secp256k1");
  Bytes wrong_prefix(65, 1);
  wrong_prefix[0] = 0x02;
  EXPECT_FALSE(AddressFromPublicKey(ByteView(wrong_prefix)).ok());
}

// The signer's self-check: a prepared public key accepts the signatures of its key and rejects
// every single-bit fault in r or s, another digest, another key, the high-s twin and r = 0.
TEST(Secp256k1, PreparedPublicKeyVerifiesAndRejectsFaults) {
  absl::StatusOr<PublicKey> key = PublicKey::FromSecret(kAnvilKey);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->address().Checksummed(), kAnvilAddress);
  EXPECT_EQ(key->Uncompressed(), *PublicKeyFromSecret(kAnvilKey));
  EXPECT_EQ(PublicKey::Parse(key->Uncompressed())->address(), key->address());
  const Bytes other_secret = H("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
  const PublicKey other = *PublicKey::FromSecret(other_secret);
  for (int i = 0; i < 8; ++i) {
    const Hash32 h = Keccak256(absl::string_view(std::to_string(i)));
    const RecoverableSignature sig = *SignHash(kAnvilKey, h);
    EXPECT_TRUE(key->Verifies(h, sig));
    EXPECT_FALSE(other.Verifies(h, sig));
    EXPECT_FALSE(key->Verifies(Keccak256(absl::string_view("another digest")), sig));
    for (int bit = 0; bit < 256; bit += 7) {
      RecoverableSignature faulty = sig;
      faulty.r[static_cast<size_t>(bit / 8)] ^= static_cast<uint8_t>(1u << (bit % 8));
      EXPECT_FALSE(key->Verifies(h, faulty)) << "r bit " << bit;
      faulty = sig;
      faulty.s[static_cast<size_t>(bit / 8)] ^= static_cast<uint8_t>(1u << (bit % 8));
      EXPECT_FALSE(key->Verifies(h, faulty)) << "s bit " << bit;
    }
    RecoverableSignature high = sig;  // (r, n - s): valid ECDSA, but not low-s
    high.s = U256::CheckedSub(*U256::FromHex(std::string("0x") + kOrder), U256::FromBytes32(sig.s))->ToBytes32();
    EXPECT_FALSE(key->Verifies(h, high));
    RecoverableSignature zero = sig;
    zero.r = {};
    EXPECT_FALSE(key->Verifies(h, zero));
    RecoverableSignature bad_id = sig;
    bad_id.recovery_id = 2;
    EXPECT_FALSE(key->Verifies(h, bad_id));
  }
  EXPECT_EQ(PublicKey::Parse(Bytes(64, 4)).status().message(), "public key: want 65 bytes 0x04||X||Y, got 64 bytes");
  Bytes not_on_curve(65, 1);
  not_on_curve[0] = 0x04;
  EXPECT_EQ(PublicKey::Parse(not_on_curve).status().message(), "public key: not a point on secp256k1");
  EXPECT_FALSE(PublicKey::FromSecret(Bytes(32, 0)).ok());
}

Hash32 HashOf(absl::string_view hex) { return *Hash32::FromBytes(H(hex)); }

// Digests that are each their own case for z = digest mod n: 0, n - 1, n (z = 0), n + 1 (z = 1),
// 2^256 - 1, and ordinary ones.
std::vector<Hash32> SelfCheckDigests() {
  std::vector<Hash32> out = {HashOf(std::string(64, '0')),
                             HashOf("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140"), HashOf(kOrder),
                             HashOf("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364142"),
                             HashOf(std::string(64, 'f'))};
  for (int i = 0; i < 24; ++i) out.push_back(Keccak256(absl::string_view(std::to_string(i))));
  return out;
}

// The nonce RFC 6979 gives libsecp256k1's signing on its first attempt (the one used unless it
// is out of range, p ~ 2^-128); also a first-nonce function for SignHashSelfChecked.
void LibsecpFirstNonce(ByteView secret, ByteView digest, uint8_t* nonce32) {
  EXPECT_EQ(secp256k1_nonce_function_rfc6979(nonce32, digest.data(), secret.data(), nullptr, nullptr, 0), 1);
}

Bytes Rfc6979Nonce(ByteView secret, const Hash32& h) {
  Bytes k(32);
  LibsecpFirstNonce(secret, h.bytes(), k.data());
  return k;
}

// A context of the tests' own for libsecp256k1's scalar arithmetic.
const secp256k1_context* TestContext() {
  static secp256k1_context* const ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  return ctx;
}

// The signer's signing: the same bytes as SignHash, and each signature verifies against the key
// and recovers its address (libsecp256k1's verification and recovery as the oracle), for both
// parities of R.y and both outcomes of the low-s rule.
TEST(Secp256k1, SelfCheckedSigningGivesSignHashsSignatures) {
  const Bytes other_secret = H("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
  int ids[2] = {0, 0};
  for (const Bytes& secret : {kAnvilKey, other_secret, H(std::string(63, '0') + "1")}) {
    const PublicKey key = *PublicKey::FromSecret(secret);
    for (const Hash32& h : SelfCheckDigests()) {
      absl::StatusOr<RecoverableSignature> sig = SignHashSelfChecked(secret, h);
      ASSERT_TRUE(sig.ok()) << sig.status() << " " << ToHex(h.bytes());
      EXPECT_EQ(*sig, *SignHash(secret, h)) << ToHex(h.bytes());
      EXPECT_TRUE(key.Verifies(h, *sig)) << ToHex(h.bytes());
      EXPECT_EQ(*Recover(h, *sig), key.address()) << ToHex(h.bytes());
      EXPECT_TRUE(SignatureMatchesNonce(secret, h, Rfc6979Nonce(secret, h), *sig));
      ++ids[sig->recovery_id];
    }
  }
  EXPECT_GT(ids[0], 10);
  EXPECT_GT(ids[1], 10);
  EXPECT_EQ(SignHashSelfChecked(Bytes(31, 1), Hash32()).status().message(), "secret key: want 32 bytes, got 31");
}

// a·b mod n through libsecp256k1's constant-time scalar product (a, b in [1, n-1]).
Bytes MulModOrder(Bytes a, const Bytes& b) {
  EXPECT_EQ(secp256k1_ec_seckey_tweak_mul(TestContext(), a.data(), b.data()), 1);
  return a;
}

// a^-1 mod n = a^(n-2) (Fermat; n is prime).
Bytes InverseModOrder(const Bytes& a) {
  const Bytes e = *FromHex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd036413f");  // n - 2
  Bytes acc = H(std::string(63, '0') + "1");
  for (uint8_t byte : e) {
    for (int bit = 7; bit >= 0; --bit) {
      acc = MulModOrder(acc, acc);
      if ((byte >> bit) & 1) acc = MulModOrder(acc, a);
    }
  }
  return acc;
}

// A fault in computing R alone: r' is not R.x, but s = k^-1 (z + r'·d) is computed from it, so
// the signing equation holds for r'; only recomputing R finds it. Low-s normalized as signing does.
RecoverableSignature SignatureWithFaultyR(const Bytes& secret, const Hash32& h, const Bytes& nonce,
                                          const RecoverableSignature& good) {
  RecoverableSignature bad = good;
  bad.r[31] ^= 1;
  Bytes zr = MulModOrder(secret, Bytes(bad.r.begin(), bad.r.end()));
  EXPECT_EQ(secp256k1_ec_seckey_tweak_add(TestContext(), zr.data(), h.data()), 1);  // the digests used here are < n
  Bytes s = MulModOrder(zr, InverseModOrder(nonce));
  std::copy(s.begin(), s.end(), bad.s.begin());
  if (!bad.IsLowS()) {
    EXPECT_EQ(secp256k1_ec_seckey_negate(TestContext(), s.data()), 1);
    std::copy(s.begin(), s.end(), bad.s.begin());
    bad.recovery_id ^= 1;
  }
  return bad;
}

void ConstantNonce(ByteView, ByteView, uint8_t* nonce32) { std::fill(nonce32, nonce32 + 32, 0x42); }

// A first-attempt nonce function is called with the secret and digest being signed and its nonce
// is the one used: libsecp256k1's own gives SignHash's bytes; another (here a constant, which
// no signer may use) gives another signature, still self-checked against that nonce.
TEST(Secp256k1, SelfCheckedSigningUsesTheFirstNonceFunction) {
  for (const Hash32& h : SelfCheckDigests()) {
    EXPECT_EQ(*SignHashSelfChecked(kAnvilKey, h, LibsecpFirstNonce), *SignHash(kAnvilKey, h)) << ToHex(h.bytes());
    absl::StatusOr<RecoverableSignature> other = SignHashSelfChecked(kAnvilKey, h, ConstantNonce);
    ASSERT_TRUE(other.ok()) << other.status();
    EXPECT_NE(*other, *SignHash(kAnvilKey, h));
    EXPECT_TRUE(SignatureMatchesNonce(kAnvilKey, h, Bytes(32, 0x42), *other));
    EXPECT_EQ(*Recover(h, *other), *AddressFromSecret(kAnvilKey));
  }
}

// The self-check rejects every single-bit fault in r, s, the nonce, the key or the digest, the
// other recovery id, the high-s twin (with either id), and r = 0: each is what a fault during
// signing could have produced.
TEST(Secp256k1, SelfCheckRejectsFaults) {
  const U256 order = *U256::FromHex(std::string("0x") + kOrder);
  const std::vector<Hash32> digests = SelfCheckDigests();
  for (size_t i = 0; i < digests.size(); ++i) {
    const Hash32& h = digests[i];
    const RecoverableSignature sig = *SignHash(kAnvilKey, h);
    const Bytes nonce = Rfc6979Nonce(kAnvilKey, h);
    ASSERT_TRUE(SignatureMatchesNonce(kAnvilKey, h, nonce, sig)) << ToHex(h.bytes());
    for (int bit = 0; bit < 256; bit += 5) {
      const size_t byte = static_cast<size_t>(bit / 8);
      const uint8_t mask = static_cast<uint8_t>(1u << (bit % 8));
      RecoverableSignature faulty = sig;
      faulty.r[byte] ^= mask;
      EXPECT_FALSE(SignatureMatchesNonce(kAnvilKey, h, nonce, faulty)) << "r bit " << bit;
      faulty = sig;
      faulty.s[byte] ^= mask;
      EXPECT_FALSE(SignatureMatchesNonce(kAnvilKey, h, nonce, faulty)) << "s bit " << bit;
      Bytes bad_nonce = nonce;
      bad_nonce[byte] ^= mask;
      EXPECT_FALSE(SignatureMatchesNonce(kAnvilKey, h, bad_nonce, sig)) << "nonce bit " << bit;
      Bytes bad_key = kAnvilKey;
      bad_key[byte] ^= mask;
      EXPECT_FALSE(SignatureMatchesNonce(bad_key, h, nonce, sig)) << "key bit " << bit;
      Hash32 bad_hash = h;
      bad_hash.data()[byte] ^= mask;
      EXPECT_FALSE(SignatureMatchesNonce(kAnvilKey, bad_hash, nonce, sig)) << "digest bit " << bit;
    }
    if (i >= 5) {  // the ordinary digests (z = h)
      const RecoverableSignature faulty_r = SignatureWithFaultyR(kAnvilKey, h, nonce, sig);
      EXPECT_FALSE(SignatureMatchesNonce(kAnvilKey, h, nonce, faulty_r));
      RecoverableSignature other = faulty_r;
      other.recovery_id ^= 1;
      EXPECT_FALSE(SignatureMatchesNonce(kAnvilKey, h, nonce, other));
    }
    RecoverableSignature other_id = sig;
    other_id.recovery_id ^= 1;
    EXPECT_FALSE(SignatureMatchesNonce(kAnvilKey, h, nonce, other_id));
    RecoverableSignature high = sig;  // (r, n - s): valid ECDSA with the other id, but not low-s
    high.s = U256::CheckedSub(order, U256::FromBytes32(sig.s))->ToBytes32();
    EXPECT_FALSE(SignatureMatchesNonce(kAnvilKey, h, nonce, high));
    high.recovery_id ^= 1;
    EXPECT_FALSE(SignatureMatchesNonce(kAnvilKey, h, nonce, high));
    RecoverableSignature zero = sig;
    zero.r = {};
    EXPECT_FALSE(SignatureMatchesNonce(kAnvilKey, h, nonce, zero));
    RecoverableSignature bad_id = sig;
    bad_id.recovery_id = 2;
    EXPECT_FALSE(SignatureMatchesNonce(kAnvilKey, h, nonce, bad_id));
  }
  EXPECT_FALSE(SignatureMatchesNonce(kAnvilKey, Hash32(), Bytes(32, 0), *SignHash(kAnvilKey, Hash32())));
}

TEST(Secp256k1, SharedContextIsThreadSafe) {
  const Hash32 h = Keccak256(absl::string_view("threads"));
  const RecoverableSignature want = *SignHash(kAnvilKey, h);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto s = SignHash(kAnvilKey, h);
        if (!s.ok() || !(*s == want) || !Recover(h, *s).ok()) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace chain
