// EIP-1559 signing of a typical addComposeHash transaction next to the raw libsecp256k1 call
// it is built on.
#include <benchmark/benchmark.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "chain/dstack_calls.h"
#include "chain/hex.h"
#include "chain/keccak.h"
#include "chain/secp256k1.h"
#include "chain/transaction.h"
#include "crypto/rfc6979.h"

namespace {

const chain::Bytes kKey = *chain::FromHex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");

chain::Eip1559Transaction AddComposeHashTx() {
  chain::Eip1559Transaction tx;
  tx.chain_id = 8453;
  tx.nonce = 42;
  tx.max_priority_fee_per_gas = chain::U256(1000000);
  tx.max_fee_per_gas = chain::U256(2000000000);
  tx.gas_limit = 60000;
  tx.to = *chain::Address::Parse("0x2f83172A49584C017F2B256F0FB2Dca14126Ba9C");
  tx.data = chain::EncodeAddComposeHash(*chain::Hash32::FromHex(std::string(64, '1')));
  return tx;
}

// What a signer does per request: payload, signing hash, sign, raw bytes, tx hash.
void BM_Eip1559SignAndEncode(benchmark::State& state) {
  const chain::Eip1559Transaction tx = AddComposeHashTx();
  for (auto _ : state) {
    auto sig = chain::SignHash(kKey, tx.SigningHash());
    chain::Bytes raw = tx.EncodeSigned(*sig);
    chain::Hash32 hash = chain::TxHash(raw);
    benchmark::DoNotOptimize(raw);
    benchmark::DoNotOptimize(hash);
  }
}

// The convenience call: the above plus deriving the sender address (a second EC multiplication).
void BM_SignEip1559WithFrom(benchmark::State& state) {
  const chain::Eip1559Transaction tx = AddComposeHashTx();
  for (auto _ : state) {
    auto signed_tx = chain::SignEip1559(kKey, tx);
    benchmark::DoNotOptimize(signed_tx);
  }
}

// The signer's signing since stop 31: the signature, then its check with the nonce it used
// (R = k·G again, one fixed-base multiplication, and the signing equation in scalars).
void BM_SignHashSelfChecked(benchmark::State& state) {
  const chain::Hash32 hash = AddComposeHashTx().SigningHash();
  for (auto _ : state) {
    auto sig = chain::SignHashSelfChecked(kKey, hash);
    benchmark::DoNotOptimize(sig);
  }
}

// With the first nonce from crypto::Secp256k1Rfc6979Nonce, as the signer's key store calls it.
void BM_SignHashSelfCheckedOpenSslNonce(benchmark::State& state) {
  const chain::Hash32 hash = AddComposeHashTx().SigningHash();
  for (auto _ : state) {
    auto sig = chain::SignHashSelfChecked(kKey, hash, crypto::Secp256k1Rfc6979Nonce);
    benchmark::DoNotOptimize(sig);
  }
}

// RFC 6979's first nonce: libsecp256k1's portable C, and ours on OpenSSL's SHA-256.
void BM_Rfc6979NonceLibsecp256k1(benchmark::State& state) {
  const chain::Hash32 hash = AddComposeHashTx().SigningHash();
  uint8_t k[32];
  for (auto _ : state) {
    int ok = secp256k1_nonce_function_rfc6979(k, hash.data(), kKey.data(), nullptr, nullptr, 0);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(k);
  }
}

void BM_Rfc6979NonceOpenSsl(benchmark::State& state) {
  const chain::Hash32 hash = AddComposeHashTx().SigningHash();
  uint8_t k[32];
  for (auto _ : state) {
    crypto::Secp256k1Rfc6979Nonce(kKey, hash.bytes(), k);
    benchmark::DoNotOptimize(k);
  }
}

// The same signature unchecked, and checked the way the signer did before stop 31 (a
// verification against the public key parsed at load): the pair to compare the above with.
void BM_SignHashThenVerify(benchmark::State& state) {
  const chain::PublicKey key = *chain::PublicKey::FromSecret(kKey);
  const chain::Hash32 hash = AddComposeHashTx().SigningHash();
  for (auto _ : state) {
    auto sig = chain::SignHash(kKey, hash);
    bool ok = key.Verifies(hash, *sig);
    benchmark::DoNotOptimize(ok);
  }
}

void BM_SignHash(benchmark::State& state) {
  const chain::Hash32 hash = AddComposeHashTx().SigningHash();
  for (auto _ : state) {
    auto sig = chain::SignHash(kKey, hash);
    benchmark::DoNotOptimize(sig);
  }
}

// A verification against the public key parsed at load, alone.
void BM_SelfCheckVerifyPreparedKey(benchmark::State& state) {
  const chain::PublicKey key = *chain::PublicKey::FromSecret(kKey);
  const chain::Hash32 hash = AddComposeHashTx().SigningHash();
  const chain::RecoverableSignature sig = *chain::SignHash(kKey, hash);
  for (auto _ : state) {
    bool ok = key.Verifies(hash, sig);
    benchmark::DoNotOptimize(ok);
  }
}

// The self-check it replaced: recover the signer's address and compare.
void BM_SelfCheckRecoverAndCompare(benchmark::State& state) {
  const chain::Address address = *chain::AddressFromSecret(kKey);
  const chain::Hash32 hash = AddComposeHashTx().SigningHash();
  const chain::RecoverableSignature sig = *chain::SignHash(kKey, hash);
  for (auto _ : state) {
    absl::StatusOr<chain::Address> who = chain::Recover(hash, sig);
    bool ok = who.ok() && *who == address;
    benchmark::DoNotOptimize(ok);
  }
}

// Baseline: libsecp256k1 alone on a fixed hash with its own randomized context.
void BM_RawSecp256k1SignRecoverable(benchmark::State& state) {
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  unsigned char seed[32] = {1};
  (void)secp256k1_context_randomize(ctx, seed);
  const chain::Hash32 hash = AddComposeHashTx().SigningHash();
  secp256k1_ecdsa_recoverable_signature sig;
  for (auto _ : state) {
    int ok = secp256k1_ecdsa_sign_recoverable(ctx, &sig, hash.data(), kKey.data(), nullptr, nullptr);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(sig);
  }
  secp256k1_context_destroy(ctx);
}

BENCHMARK(BM_Eip1559SignAndEncode);
BENCHMARK(BM_SignEip1559WithFrom);
BENCHMARK(BM_SignHash);
BENCHMARK(BM_SignHashSelfChecked);
BENCHMARK(BM_SignHashSelfCheckedOpenSslNonce);
BENCHMARK(BM_Rfc6979NonceLibsecp256k1);
BENCHMARK(BM_Rfc6979NonceOpenSsl);
BENCHMARK(BM_SignHashThenVerify);
BENCHMARK(BM_SelfCheckVerifyPreparedKey);
BENCHMARK(BM_SelfCheckRecoverAndCompare);
BENCHMARK(BM_RawSecp256k1SignRecoverable);

}  // namespace
