// Deploys per second from one key with N operations in flight (chain::onchain, nonce
// pipelining), next to the JS SDK (@phala/cloud deployAppAuth, sequential: it has no nonce
// pipelining) in the same run, against anvil. Two chains: automine (a block per transaction at
// once: measures our overhead) and interval mining (blocks every --block_time_ms: what a real
// chain's block time does to each).
//
//   bazel run -c opt //bench/onchain:deploy_bench
//   bazel run -c opt //bench/onchain:deploy_bench -- --deploys=64 --sdk_deploys=16 --block_time_ms=1000
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "chain/onchain/operations.h"
#include "chain/onchain/testing/anvil_env.h"
#include "test/anvil/harness.h"
#include "test/sdk_chain/sdk_ops.h"

ABSL_FLAG(int, deploys, 128, "deploys per measured point (automine)");
ABSL_FLAG(int, sdk_deploys, 16, "sequential SDK deploys (automine)");
ABSL_FLAG(std::string, in_flight, "1,8,32", "values of N");
ABSL_FLAG(int, block_time_ms, 1000, "interval-mining scenario: block time; 0 skips it");
ABSL_FLAG(int, interval_deploys, 32, "deploys per point in the interval-mining scenario (N >= 8)");

namespace {

namespace json = boost::json;
using chain::onchain::testing::AnvilEnv;
using chain::onchain::testing::TestHash;
using sdkchain::RunSdkOps;

struct Point {
  double per_second = 0;
  double seconds = 0;
  int deploys = 0;
  int failures = 0;
};

Point RunOurs(AnvilEnv& env, int n_in_flight, int deploys, uint64_t salt) {
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  const absl::Time t0 = absl::Now();
  std::vector<std::thread> workers;
  for (int w = 0; w < n_in_flight; ++w) {
    workers.emplace_back([&] {
      for (int i = next.fetch_add(1); i < deploys; i = next.fetch_add(1)) {
        absl::StatusOr<chain::onchain::DeployAppAuthResult> r =
            env.ops->DeployAppAuth(env.DeployRequest(TestHash(salt + static_cast<uint64_t>(i))));
        if (!r.ok()) {
          failures.fetch_add(1);
          std::fprintf(stderr, "deploy failed: %s\n", std::string(r.status().message()).c_str());
        }
      }
    });
  }
  for (std::thread& t : workers) t.join();
  Point p;
  p.seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  p.deploys = deploys;
  p.failures = failures.load();
  p.per_second = deploys / p.seconds;
  return p;
}

// The SDK, sequentially, in one Node process: per_second from the sum of the SDK calls' own
// times (Node start-up excluded).
absl::StatusOr<Point> RunSdk(AnvilEnv& env, int deploys, uint64_t salt) {
  json::array ops;
  for (int i = 0; i < deploys; ++i) {
    ops.push_back(json::object{{"kind", "deploy"}, {"composeHash", TestHash(salt + static_cast<uint64_t>(i)).Hex()}});
  }
  absl::StatusOr<json::object> out = RunSdkOps(env, std::move(ops), absl::Minutes(10));
  if (!out.ok()) return out.status();
  double ms = 0;
  for (const json::value& res : out->at("results").as_array()) ms += res.at("ms").to_number<double>();
  Point p;
  p.deploys = deploys;
  p.seconds = ms / 1000;
  p.per_second = deploys / p.seconds;
  return p;
}

void Print(const std::string& scenario, const std::string& who, const Point& p) {
  std::printf("| %s | %s | %d | %.2f s | %.1f deploys/s | %d |\n", scenario.c_str(), who.c_str(), p.deploys, p.seconds,
              p.per_second, p.failures);
  std::fflush(stdout);
}

// Each point runs on a fresh anvil: anvil's cost per block grows with the chain's length, so
// points measured one after another on one chain would not be comparable.
int Scenario(const std::string& name, const anvil::Options& anvil_options, int deploys, int sdk_deploys,
             const std::vector<int>& in_flight, bool small_single) {
  chain::onchain::OperationOptions o = chain::onchain::testing::FastOptions();
  o.wait.timeout = absl::Minutes(5);
  o.nonces.stuck_after = absl::Minutes(5);  // no fee bumps in a benchmark
  auto start = [&]() -> std::unique_ptr<AnvilEnv> {
    absl::StatusOr<std::unique_ptr<AnvilEnv>> env = AnvilEnv::Start(anvil_options, o);
    if (!env.ok()) {
      std::fprintf(stderr, "anvil: %s\n", std::string(env.status().message()).c_str());
      return nullptr;
    }
    return *std::move(env);
  };
  for (int n : in_flight) {
    std::unique_ptr<AnvilEnv> env = start();
    if (env == nullptr) return 1;
    (void)RunOurs(*env, 1, 2, 1'000'000);  // warm-up: connections, first nonce read
    const int count = (small_single && n < 8) ? std::max(4, deploys / 8) : deploys;
    Print(name, absl::StrCat("C++ chain::onchain, N=", n, " in flight"), RunOurs(*env, n, count, 1));
  }
  if (sdk_deploys > 0) {
    std::unique_ptr<AnvilEnv> env = start();
    if (env == nullptr) return 1;
    absl::StatusOr<Point> sdk = RunSdk(*env, sdk_deploys, 1);
    if (!sdk.ok()) {
      std::fprintf(stderr, "sdk: %s\n", std::string(sdk.status().message()).c_str());
      return 1;
    }
    Print(name, "JS SDK @phala/cloud 0.2.9 deployAppAuth, sequential", *sdk);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::vector<int> in_flight;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_in_flight), ',')) {
    int n = 0;
    if (absl::SimpleAtoi(s, &n) && n > 0) in_flight.push_back(n);
  }
  std::printf("| Chain | Client | Deploys | Time | Throughput | Failures |\n|---|---|---|---|---|---|\n");
  int rc =
      Scenario("anvil automine", {}, absl::GetFlag(FLAGS_deploys), absl::GetFlag(FLAGS_sdk_deploys), in_flight, false);
  const int block_ms = absl::GetFlag(FLAGS_block_time_ms);
  if (rc == 0 && block_ms > 0) {
    anvil::Options o;
    o.block_time = absl::Milliseconds(block_ms);
    rc = Scenario(absl::StrCat("anvil, a block every ", block_ms, " ms"), o, absl::GetFlag(FLAGS_interval_deploys), 4,
                  in_flight, true);
  }
  return rc;
}
