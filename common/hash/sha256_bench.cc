// SHA-256 of a derived event id's input (~60 bytes), as processing hashes
// four per work item: Docket's Sha256 (a fetched digest and a reused
// context per thread) against OpenSSL's one-shot EVP_Digest(EVP_sha256()).
// Run by hand: build/common/hash/sha256_bench

#include <openssl/evp.h>

#include <benchmark/benchmark.h>

#include <string>

#include "common/hash/sha256.h"

namespace {

std::string Input() { return std::string("01a247c3-3f8a-7452-862f-89b2faa6c9d9@v3\x1f") + "Claimed:databot-1"; }

void BM_DocketSha256(benchmark::State& state) {
  std::string in = Input();
  for (auto _ : state) {
    ++in[0];
    benchmark::DoNotOptimize(docket::hash::Sha256(in));
  }
}
BENCHMARK(BM_DocketSha256)->Threads(1)->Threads(2);

void BM_EvpDigestOneShot(benchmark::State& state) {
  std::string in = Input();
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  for (auto _ : state) {
    ++in[0];
    benchmark::DoNotOptimize(EVP_Digest(in.data(), in.size(), d, &len, EVP_sha256(), nullptr));
  }
}
BENCHMARK(BM_EvpDigestOneShot)->Threads(1)->Threads(2);

}  // namespace

BENCHMARK_MAIN();
