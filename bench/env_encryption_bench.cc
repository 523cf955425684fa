// The env-var encryption of a deploy (cloudapi::EncryptEnvVars: X25519 with a fresh ephemeral key,
// then AES-256-GCM) and its X25519 parts, against libsodium's X25519 scalar multiplication measured
// in the same run: an ephemeral key's public half and the shared secret need two of them, so two
// raw multiplications are the floor of one encryption.
#include <sodium.h>

#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "chain/hex.h"
#include "cloudapi/env_encryption.h"
#include "crypto/x25519.h"

namespace {

// A fresh app key: any valid X25519 public key does.
crypto::X25519PublicKey AppKey() { return crypto::GenerateX25519KeyPair()->public_key; }

void BM_RawSodiumScalarMult(benchmark::State& state) {
  if (sodium_init() < 0) state.SkipWithError("sodium_init");
  const crypto::X25519PublicKey peer = AppKey();
  uint8_t scalar[32];
  randombytes_buf(scalar, sizeof scalar);
  uint8_t out[32];
  for (auto _ : state) {
    if (crypto_scalarmult_curve25519(out, scalar, peer.data()) != 0) state.SkipWithError("small order");
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_RawSodiumScalarMult);

void BM_X25519PublicKey(benchmark::State& state) {
  const crypto::X25519PrivateKey key = *crypto::X25519PrivateKey::Generate();
  for (auto _ : state) benchmark::DoNotOptimize(key.PublicKey());
}
BENCHMARK(BM_X25519PublicKey);

void BM_X25519SharedSecret(benchmark::State& state) {
  const crypto::X25519PrivateKey key = *crypto::X25519PrivateKey::Generate();
  const crypto::X25519PublicKey peer = AppKey();
  for (auto _ : state) benchmark::DoNotOptimize(crypto::X25519SharedSecret(key, peer));
}
BENCHMARK(BM_X25519SharedSecret);

// Ten variables of a typical compose (keys and values of 20-60 bytes).
void BM_EncryptEnvVars(benchmark::State& state) {
  const crypto::X25519PublicKey key = AppKey();
  const std::string app_key = chain::ToHex(key, /*prefix=*/false);
  std::vector<cloudapi::EnvVar> vars;
  for (int i = 0; i < 10; ++i) {
    vars.push_back({"APP_SETTING_" + std::to_string(i), std::string(40, static_cast<char>('a' + i))});
  }
  for (auto _ : state) {
    absl::StatusOr<std::string> sealed = cloudapi::EncryptEnvVars(vars, app_key);
    if (!sealed.ok()) state.SkipWithError("encrypt");
    benchmark::DoNotOptimize(sealed);
  }
}
BENCHMARK(BM_EncryptEnvVars);

}  // namespace
