// Keccak-256 (chain/keccak) next to OpenSSL's SHA3-256 on the same inputs. Both run the same
// Keccak-f[1600] permutation with the same 136-byte rate; only the padding byte differs, so the
// throughputs are directly comparable.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <vector>

#include "chain/keccak.h"

namespace {

std::vector<uint8_t> Input(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 31 + 7);
  return v;
}

void BM_Keccak256(benchmark::State& state) {
  const std::vector<uint8_t> in = Input(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    chain::Hash32 h = chain::Keccak256(chain::ByteView(in));
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

// OpenSSL at its fastest: the algorithm fetched once and one context reused, so the loop pays
// only init + update + final, as our one-shot call does.
void BM_OpenSSL_SHA3_256(benchmark::State& state) {
  const std::vector<uint8_t> in = Input(static_cast<size_t>(state.range(0)));
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA3-256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char out[32];
  unsigned int len = 0;
  for (auto _ : state) {
    EVP_DigestInit_ex(ctx, md, nullptr);
    EVP_DigestUpdate(ctx, in.data(), in.size());
    EVP_DigestFinal_ex(ctx, out, &len);
    benchmark::DoNotOptimize(out);
  }
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(md);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

BENCHMARK(BM_Keccak256)->Arg(32)->Arg(136)->Arg(1024)->Arg(65536);
BENCHMARK(BM_OpenSSL_SHA3_256)->Arg(32)->Arg(136)->Arg(1024)->Arg(65536);

}  // namespace
