// Signed transactions per second over gRPC on the Unix socket, with the durable
// anti-equivocation record on (SQLite WAL, synchronous=FULL, group commit) and the audit log, at
// 1, 8 and 64 concurrent clients — next to raw libsecp256k1 signing measured in the same run.
//
//   bazel run -c opt //signer/bench:signer_grpc_bench -- --seconds=5 --concurrency=1,8,64
//
// The server (transport + engine + key store + policy + store + audit, exactly as the signer
// binary wires them) and the clients run in this one process on the same cores: the client side's
// CPU is part of the cost, as it would be on a 2-core box running the orchestrator beside the
// signer. Every request signs a new nonce (NONCE_USE_FIRST), so every one is recorded durably.
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
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
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "onchainkms/signer/v1/signer.grpc.pb.h"
#include "platform/transport/transport.h"
#include "signer/audit/audit_log.h"
#include "signer/engine/engine.h"
#include "signer/equivocation/sqlite_store.h"
#include "signer/keystore/key_store.h"
#include "signer/policy/policy_holder.h"
#include "signer/policy/usage_tracker.h"
#include "signer/signer_service.h"
#include "signer/testing/anvil_fixtures.h"

ABSL_FLAG(double, seconds, 5.0, "duration of each measured run");
ABSL_FLAG(std::string, concurrency, "1,8,64", "client counts to measure");
ABSL_FLAG(std::string, dir, "/tmp", "where the database and audit log go (a real disk for durable numbers)");
ABSL_FLAG(double, raw_seconds, 2.0, "duration of the raw libsecp256k1 measurement (0 skips it)");
ABSL_FLAG(bool, engine_only_rows, true, "also measure the engine without gRPC");
ABSL_FLAG(bool, audit_fsync_every_record, false, "fdatasync the audit log per record instead of every 10 ms");

namespace {

namespace v1 = onchainkms::signer::v1;

using signer::fixtures::kSecret;

double RawSecp256k1PerSecond(int threads, double seconds) {
  std::atomic<uint64_t> total{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
      const chain::Bytes key = *chain::FromHex(kSecret);
      chain::Hash32 h = chain::Keccak256(absl::StrCat("bench", t));
      secp256k1_ecdsa_recoverable_signature sig;
      uint64_t n = 0;
      const absl::Time end = absl::Now() + absl::Seconds(seconds);
      while (absl::Now() < end) {
        for (int i = 0; i < 64; ++i) {
          h.data()[0] = static_cast<uint8_t>(n);
          (void)secp256k1_ecdsa_sign_recoverable(ctx, &sig, h.data(), key.data(), nullptr, nullptr);
          ++n;
        }
      }
      total += n;
      secp256k1_context_destroy(ctx);
    });
  }
  for (auto& t : ts) t.join();
  return static_cast<double>(total.load()) / seconds;
}

double ProcessCpuSeconds() {
  rusage u;
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Result {
  int clients;
  double cpu_us_per_tx = 0;
  double tps;
  double p50_us, p99_us;
  uint64_t commits, records;
};

// What a run is measured against: the counters when it starts.
struct RunStart {
  uint64_t commits = 0, records = 0;
  double cpu_seconds = 0;
  absl::Time time;

  static RunStart Now(const signer::equivocation::Store& store) {
    return {store.commits(), store.records_written(), ProcessCpuSeconds(), absl::Now()};
  }
};

// The result of `clients` streams or callers that started at `start` and took `latencies` (µs).
Result Summarize(const RunStart& start, const signer::equivocation::Store& store, int clients,
                 std::vector<double> latencies) {
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start.time);
  std::sort(latencies.begin(), latencies.end());
  const size_t n = latencies.size();
  Result r;
  r.clients = clients;
  r.tps = static_cast<double>(n) / elapsed;
  r.p50_us = n == 0 ? 0 : latencies[n / 2];
  r.p99_us = n == 0 ? 0 : latencies[std::min(n - 1, n * 99 / 100)];
  r.commits = store.commits() - start.commits;
  r.records = store.records_written() - start.records;
  r.cpu_us_per_tx = n == 0 ? 0 : (ProcessCpuSeconds() - start.cpu_seconds) * 1e6 / static_cast<double>(n);
  return r;
}

// `clients` concurrent request streams on the gRPC callback (async) client API: each stream sends
// its next request from the previous one's completion. Streams are spread over 8 connections.
Result RunClients(const std::string& address, int clients, double seconds, uint64_t nonce_base,
                  signer::equivocation::Store* store) {
  constexpr int kChannels = 8;
  std::vector<std::unique_ptr<v1::Signer::Stub>> stubs;
  for (int i = 0; i < std::min(clients, kChannels); ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    stubs.push_back(v1::Signer::NewStub(grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args)));
  }
  struct Stream {
    v1::Signer::Stub* stub;
    uint64_t next_nonce;
    v1::SignAddComposeHashRequest request;
    v1::SignedTransaction response;
    std::unique_ptr<grpc::ClientContext> ctx;
    absl::Time t0;
    std::vector<double> latencies;
  };
  std::vector<Stream> streams(static_cast<size_t>(clients));
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
  std::atomic<int> errors{0};
  absl::Time end;
  std::function<void(Stream*)> issue = [&](Stream* s) {
    s->request.set_nonce(s->next_nonce++);
    s->ctx = std::make_unique<grpc::ClientContext>();
    s->t0 = absl::Now();
    s->stub->async()->SignAddComposeHash(s->ctx.get(), &s->request, &s->response, [&, s](grpc::Status st) {
      const absl::Time now = absl::Now();
      s->latencies.push_back(absl::ToDoubleMicroseconds(now - s->t0));
      if (!st.ok() && errors.fetch_add(1) < 3) std::fprintf(stderr, "error: %s\n", st.error_message().c_str());
      if (now < end) return issue(s);
      std::lock_guard<std::mutex> lock(mu);
      if (--running == 0) cv.notify_one();
    });
  };
  for (int c = 0; c < clients; ++c) {
    Stream& s = streams[static_cast<size_t>(c)];
    s.stub = stubs[static_cast<size_t>(c % kChannels)].get();
    s.next_nonce = nonce_base + static_cast<uint64_t>(c) * 10000000ull;
    s.request = signer::fixtures::AddComposeHashRequest();
    s.latencies.reserve(100000);
  }
  // Warm every connection up.
  for (auto& stub : stubs) {
    grpc::ClientContext ctx;
    v1::ListKeysResponse keys;
    (void)stub->ListKeys(&ctx, {}, &keys);
  }
  const RunStart start = RunStart::Now(*store);
  end = start.time + absl::Seconds(seconds);
  running = clients;
  for (auto& s : streams) issue(&s);
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return running == 0; });
  }
  std::vector<double> all;
  for (auto& s : streams) all.insert(all.end(), s.latencies.begin(), s.latencies.end());
  return Summarize(start, *store, clients, std::move(all));
}

// The same requests straight into the engine (no gRPC): what the signer itself costs.
Result RunEngine(signer::engine::Engine* engine, int callers, double seconds, uint64_t nonce_base,
                 signer::equivocation::Store* store) {
  std::vector<std::vector<double>> latencies(static_cast<size_t>(callers));
  std::vector<std::thread> ts;
  const RunStart start = RunStart::Now(*store);
  const absl::Time end = start.time + absl::Seconds(seconds);
  for (int c = 0; c < callers; ++c) {
    ts.emplace_back([&, c] {
      v1::SignAddComposeHashRequest r = signer::fixtures::AddComposeHashRequest();
      const platform::Caller caller(platform::Caller::InsecureLoopback{"bench"});
      uint64_t i = 0;
      auto& lat = latencies[static_cast<size_t>(c)];
      while (absl::Now() < end) {
        r.set_nonce(nonce_base + static_cast<uint64_t>(c) * 10000000ull + i++);
        v1::SignedTransaction out;
        std::mutex mu;
        std::condition_variable cv;
        bool finished = false;
        const absl::Time t0 = absl::Now();
        engine->SignAddComposeHash(caller, r, &out, [&](absl::Status) {
          std::lock_guard<std::mutex> lock(mu);
          finished = true;
          cv.notify_one();
        });
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return finished; });
        lat.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
      }
    });
  }
  for (auto& t : ts) t.join();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  return Summarize(start, *store, callers, std::move(all));
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  std::vector<int> counts;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_concurrency), ',')) {
    int n = 0;
    if (absl::SimpleAtoi(s, &n) && n > 0) counts.push_back(n);
  }
  const std::string dir = absl::StrCat(absl::GetFlag(FLAGS_dir), "/signer-bench-", ::getpid());
  std::filesystem::create_directories(dir);

  auto keys = *signer::keystore::KeyStore::FromSecrets({{"bench", *chain::FromHex(kSecret)}});
  onchainkms::signer::v1::Policy p;
  google::protobuf::TextFormat::ParseFromString(R"pb(
    chains { chain_id: 31337 app_contract_addresses: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be"
             max_fee_per_gas_wei: "100000000000" max_priority_fee_per_gas_wei: "10000000000" max_gas_limit: 2000000 }
    default_key_limits { fee_budget_24h_wei: "1000000000000000000000000" })pb",
                                                &p);
  signer::policy::PolicyHolder policy(*signer::policy::CompiledPolicy::Compile(p));
  signer::policy::UsageTracker usage;
  auto store = *signer::equivocation::SqliteStore::Open(dir + "/ae.sqlite");
  auto audit = *signer::audit::AuditLog::Open(dir + "/audit.jsonl", absl::GetFlag(FLAGS_audit_fsync_every_record)
                                                                        ? absl::ZeroDuration()
                                                                        : absl::Milliseconds(10));
  signer::engine::Engine engine({keys.get(), &policy, &usage, store.get(), audit.get(), nullptr});
  platform::TransportOptions topts;
  topts.listen.address = "unix:" + dir + "/s.sock";
  topts.restrict_unix_peers = true;
  auto transport = *platform::Transport::Create(topts);
  signer::SignerService service(&engine, *transport);
  if (absl::Status s = transport->Serve({{v1::Signer::service_full_name(), &service}}); !s.ok()) {
    std::fprintf(stderr, "cannot serve: %s\n", s.ToString().c_str());
    return 1;
  }
  transport->health().SetAll(platform::HealthService::kServing);

  const double raw_seconds = absl::GetFlag(FLAGS_raw_seconds);
  const double raw1 = raw_seconds > 0 ? RawSecp256k1PerSecond(1, raw_seconds) : 1;
  const double raw2 = raw_seconds > 0 ? RawSecp256k1PerSecond(2, raw_seconds) : 1;
  if (raw_seconds > 0)
    std::printf(
        "raw libsecp256k1 secp256k1_ecdsa_sign_recoverable: %.0f sig/s on 1 thread (%.1f us/sig), %.0f sig/s on 2 "
        "threads\n",
        raw1, 1e6 / raw1, raw2);
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  std::printf("load average at start: %.2f (2 vCPUs shared with other builds)\n", load[0]);
  std::printf("record and audit log in %s (SQLite WAL, synchronous=FULL: one fsync per group commit)\n", dir.c_str());
  std::printf(
      "\nOver gRPC on the unix socket:\n\n| clients | signed tx/s | p50 latency | p99 latency | records per group "
      "commit | CPU per tx (all threads) |\n|---|---|---|---|---|---|\n");
  uint64_t base = 0;
  for (int c : counts) {
    Result r = RunClients(transport->address(), c, seconds, base, store.get());
    base += 1000000000ull;
    std::printf("| %d | %.0f | %.0f us | %.0f us | %.1f | %.0f us |\n", r.clients, r.tps, r.p50_us, r.p99_us,
                r.commits ? static_cast<double>(r.records) / static_cast<double>(r.commits) : 0.0, r.cpu_us_per_tx);
    std::fflush(stdout);
  }
  if (absl::GetFlag(FLAGS_engine_only_rows))
    std::printf(
        "\nSame requests straight into the engine, no gRPC:\n\n"
        "| callers | signed tx/s | p50 latency | p99 latency | records per group commit | CPU per tx (all threads) "
        "|\n|---|---|---|---|---|---|\n");
  for (int c : absl::GetFlag(FLAGS_engine_only_rows) ? counts : std::vector<int>{}) {
    Result r = RunEngine(&engine, c, seconds, base, store.get());
    base += 1000000000ull;
    std::printf("| %d | %.0f | %.0f us | %.0f us | %.1f | %.0f us |\n", r.clients, r.tps, r.p50_us, r.p99_us,
                r.commits ? static_cast<double>(r.records) / static_cast<double>(r.commits) : 0.0, r.cpu_us_per_tx);
    std::fflush(stdout);
  }
  transport->Shutdown(absl::Seconds(2));
  store.reset();
  audit.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
