// The signing engine's CPU per signed transaction, without gRPC, next to one raw libsecp256k1
// signature measured in the same run: what the engine and everything below it (key store,
// self-check, transaction encoding, SQLite record, audit log) cost per signature.
//
//   bazel run -c opt //signer/bench:engine_cpu_bench -- --callers=1,64 --seconds=5
//
// Every request is an addComposeHash for a fresh nonce (NONCE_USE_FIRST): validated, bound,
// policy-checked, signed, self-checked, recorded durably in SQLite (WAL, synchronous=FULL, group
// commit) and audited before its completion runs, as signer_grpc_bench's engine-only rows.
//
// --requests=N replaces the timed runs by exactly N requests from one caller (and --raw_sigs=N
// raw signatures), for instruction counts that do not depend on the machine's load:
//
//   valgrind --tool=callgrind engine_cpu_bench --requests=2000   # minus the same with 1000, / 1000
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "chain/hex.h"
#include "chain/keccak.h"
#include "google/protobuf/text_format.h"
#include "signer/audit/audit_log.h"
#include "signer/engine/engine.h"
#include "signer/equivocation/sqlite_store.h"
#include "signer/keystore/key_store.h"
#include "signer/policy/policy_holder.h"
#include "signer/policy/usage_tracker.h"
#include "signer/server/serving_process.h"
#include "signer/testing/anvil_fixtures.h"

ABSL_FLAG(double, seconds, 5.0, "duration of each timed run");
ABSL_FLAG(std::string, callers, "1,64", "concurrent in-process callers to measure, one timed run each");
ABSL_FLAG(std::string, dir, "/tmp", "where the database and audit log go (a real disk for durable numbers)");
ABSL_FLAG(double, raw_seconds, 2.0, "duration of the raw libsecp256k1 measurement");
ABSL_FLAG(int, requests, 0, "if > 0: exactly this many requests from one caller, no timed runs (for callgrind)");
ABSL_FLAG(int, raw_sigs, 0, "if > 0: exactly this many raw signatures, nothing else (for callgrind)");
ABSL_FLAG(bool, consecutive_nonces, false,
          "callers take one key's nonces from one counter (n, n+1, ... as the orchestrator's nonce allocator "
          "hands them out) instead of each its own range 10^7 apart (as signer_grpc_bench)");
ABSL_FLAG(bool, serving_process, true,
          "the signer binary's process settings (signer/server/serving_process.h); false: the defaults");

namespace {

namespace v1 = onchainkms::signer::v1;
using signer::fixtures::kSecret;

double ProcessCpuSeconds() {
  rusage u;
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// `count` raw signatures (count > 0), or as many as fit in `seconds`; returns {signatures, CPU s}.
std::pair<uint64_t, double> RawSignatures(uint64_t count, double seconds) {
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  const chain::Bytes key = *chain::FromHex(kSecret);
  chain::Hash32 h = chain::Keccak256("bench");
  secp256k1_ecdsa_recoverable_signature sig;
  uint64_t n = 0;
  const double cpu0 = ProcessCpuSeconds();
  const absl::Time end = absl::Now() + absl::Seconds(seconds);
  while (count > 0 ? n < count : absl::Now() < end) {
    for (int i = 0; i < 16; ++i, ++n) {
      h.data()[0] = static_cast<uint8_t>(n);
      h.data()[1] = static_cast<uint8_t>(n >> 8);
      (void)secp256k1_ecdsa_sign_recoverable(ctx, &sig, h.data(), key.data(), nullptr, nullptr);
    }
  }
  const double cpu = ProcessCpuSeconds() - cpu0;
  secp256k1_context_destroy(ctx);
  return {n, cpu};
}

struct Signer {
  std::unique_ptr<signer::keystore::KeyStore> keys;
  std::unique_ptr<signer::policy::PolicyHolder> policy;
  signer::policy::UsageTracker usage;
  std::unique_ptr<signer::equivocation::SqliteStore> store;
  std::unique_ptr<signer::audit::AuditLog> audit;
  std::unique_ptr<signer::engine::Engine> engine;
};

// The engine as the signer binary wires it, on SQLite and an audit log in `dir`, with the
// bench's in-process caller bound to anvil's first key for addComposeHash.
std::unique_ptr<Signer> MakeSigner(const std::string& dir) {
  auto s = std::make_unique<Signer>();
  s->keys = *signer::keystore::KeyStore::FromSecrets({{"bench", *chain::FromHex(kSecret)}});
  v1::Policy p;
  google::protobuf::TextFormat::ParseFromString(R"pb(
    chains { chain_id: 31337 app_contract_addresses: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be"
             max_fee_per_gas_wei: "100000000000" max_priority_fee_per_gas_wei: "10000000000" max_gas_limit: 2000000 }
    default_key_limits { fee_budget_24h_wei: "1000000000000000000000000" })pb",
                                                &p);
  v1::CallerBinding* bench = p.add_callers();
  bench->set_name("bench");
  bench->add_identities("insecure");
  bench->add_keys(signer::fixtures::kFrom);
  bench->add_intents(v1::INTENT_ADD_COMPOSE_HASH);
  s->policy = std::make_unique<signer::policy::PolicyHolder>(*signer::policy::CompiledPolicy::Compile(p));
  s->store = *signer::equivocation::SqliteStore::Open(dir + "/ae.sqlite");
  s->audit = *signer::audit::AuditLog::Open(dir + "/audit.jsonl", absl::Milliseconds(10));
  s->engine = std::make_unique<signer::engine::Engine>(
      signer::engine::EngineDeps{s->keys.get(), s->policy.get(), &s->usage, s->store.get(), s->audit.get(), nullptr});
  return s;
}

// One caller's loop: a request, wait for its completion, the next nonce; until `end` or `count`
// requests. Returns the number of requests that were signed (any refusal is printed).
// `shared`: the next nonce comes from this counter instead of first_nonce + n.
uint64_t Call(signer::engine::Engine& engine, uint64_t first_nonce, uint64_t count, absl::Time end,
              std::atomic<uint64_t>* shared = nullptr) {
  v1::SignAddComposeHashRequest r = signer::fixtures::AddComposeHashRequest();
  const platform::Caller caller(platform::Caller::InsecureLoopback{"bench"});
  uint64_t n = 0;
  std::mutex mu;
  std::condition_variable cv;
  while (count > 0 ? n < count : absl::Now() < end) {
    r.set_nonce(shared != nullptr ? shared->fetch_add(1) : first_nonce + n);
    v1::SignedTransaction out;
    bool finished = false;
    absl::Status status;
    engine.SignAddComposeHash(caller, r, &out, [&](absl::Status s) {
      std::lock_guard<std::mutex> lock(mu);
      status = std::move(s);
      finished = true;
      cv.notify_one();
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return finished; });
    if (!status.ok()) {
      std::fprintf(stderr, "refused: %s\n", status.ToString().c_str());
      std::exit(1);
    }
    ++n;
  }
  return n;
}

struct Row {
  int callers;
  double tps, cpu_us_per_tx, records_per_commit;
};

Row Timed(signer::engine::Engine& engine, const signer::equivocation::Store& store, int callers, double seconds,
          uint64_t nonce_base) {
  std::vector<uint64_t> done(static_cast<size_t>(callers));
  std::vector<std::thread> ts;
  const uint64_t commits0 = store.commits(), records0 = store.records_written();
  const double cpu0 = ProcessCpuSeconds();
  const absl::Time t0 = absl::Now();
  const absl::Time end = t0 + absl::Seconds(seconds);
  std::atomic<uint64_t> next_nonce{nonce_base};
  std::atomic<uint64_t>* shared = absl::GetFlag(FLAGS_consecutive_nonces) ? &next_nonce : nullptr;
  for (int c = 0; c < callers; ++c) {
    ts.emplace_back([&, c] {
      done[static_cast<size_t>(c)] = Call(engine, nonce_base + static_cast<uint64_t>(c) * 10000000ull, 0, end, shared);
    });
  }
  for (auto& t : ts) t.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - t0);
  uint64_t n = 0;
  for (uint64_t d : done) n += d;
  const double cpu_us = (ProcessCpuSeconds() - cpu0) * 1e6;
  const uint64_t commits = std::max<uint64_t>(store.commits() - commits0, 1);
  return {callers, static_cast<double>(n) / elapsed, cpu_us / static_cast<double>(n),
          static_cast<double>(store.records_written() - records0) / static_cast<double>(commits)};
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_serving_process)) signer::server::ConfigureServingProcess();  // as the signer binary
  if (const int raw = absl::GetFlag(FLAGS_raw_sigs); raw > 0) {
    RawSignatures(static_cast<uint64_t>(raw), 0);
    return 0;
  }
  const std::string dir = absl::StrCat(absl::GetFlag(FLAGS_dir), "/engine-cpu-bench-", ::getpid());
  std::filesystem::create_directories(dir);
  {
    std::unique_ptr<Signer> s = MakeSigner(dir);
    if (const int requests = absl::GetFlag(FLAGS_requests); requests > 0) {
      Call(*s->engine, 0, static_cast<uint64_t>(requests), absl::InfiniteFuture());
    } else {
      const auto [raw_n, raw_cpu] = RawSignatures(0, absl::GetFlag(FLAGS_raw_seconds));
      const double raw_us = raw_cpu * 1e6 / static_cast<double>(raw_n);
      double load[3] = {0, 0, 0};
      ::getloadavg(load, 3);
      std::printf("raw secp256k1_ecdsa_sign_recoverable, 1 thread: %.1f us of CPU per signature\n", raw_us);
      std::printf("load average at start: %.2f; allocator: %s\n\n", load[0], signer::server::AllocatorInUse().c_str());
      std::printf(
          "| callers | signed tx/s | CPU per tx | CPU per tx / raw signature | records per commit | load |\n"
          "|---|---|---|---|---|---|\n");
      uint64_t base = 0;
      for (absl::string_view c : absl::StrSplit(absl::GetFlag(FLAGS_callers), ',')) {
        int callers = 0;
        if (!absl::SimpleAtoi(c, &callers) || callers <= 0) continue;
        const Row r = Timed(*s->engine, *s->store, callers, absl::GetFlag(FLAGS_seconds), base);
        base += 1000000000ull;
        ::getloadavg(load, 3);
        std::printf("| %d | %.0f | %.1f us | %.2fx | %.1f | %.2f |\n", r.callers, r.tps, r.cpu_us_per_tx,
                    r.cpu_us_per_tx / raw_us, r.records_per_commit, load[0]);
        std::fflush(stdout);
      }
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
