// Signed transactions per second over gRPC on the Unix socket, with the durable
// anti-equivocation record on and the audit log, at 1, 8 and 64 concurrent clients, for each
// record in the same run: SQLite (WAL, synchronous=FULL, group commit) and PostgreSQL 15 (a
// durable server the bench starts itself, group commit, classification reads on a pool) — next
// to what bounds it, measured alone in the same run: raw libsecp256k1 signing on 1 and 2 threads
// (at the start, and again just before and after each signing row, whose ratios use those) and the
// fsync latency of the disk the record is on (--dir). Each row names the RPC it used:
// unary SignAddComposeHash, or SignBatch with N addComposeHash items per call (--batch_items).
//
//   bazel run -c opt //signer/bench:signer_grpc_bench -- --seconds=5 --concurrency=1,8,64 --record=sqlite,postgres
//   bazel run -c opt //signer/bench:signer_grpc_bench -- --record=sqlite --concurrency=1,64 --batch_items=16,64
//
// The server (transport + engine + key store + policy + store + audit, exactly as the signer
// binary wires them) runs in a process of its own (this binary again, --serve_record), as in
// production, and the clients in this one, on the same cores: "signer CPU per tx" is the serving
// process's CPU alone (getrusage there), "client CPU per tx" this process's, so neither hides in
// the other. The engine-only rows run in the serving process (its CPU includes their callers).
// Every request signs a new nonce (NONCE_USE_FIRST), so every one is recorded durably. The
// Health/Check rows (--grpc_floor_rows) are the floor under them: a unary call that does no work,
// on the same serving process, connections and client.
#include <fcntl.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "chain/hex.h"
#include "chain/keccak.h"
#include "google/protobuf/text_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "onchainkms/signer/v1/signer.grpc.pb.h"
#include "platform/postgres/testing/test_server.h"
#include "platform/transport/transport.h"
#include "signer/audit/audit_log.h"
#include "signer/engine/engine.h"
#include "signer/equivocation/postgres_store.h"
#include "signer/equivocation/sqlite_store.h"
#include "signer/keystore/key_store.h"
#include "signer/policy/policy_holder.h"
#include "signer/policy/usage_tracker.h"
#include "signer/server/serving_process.h"
#include "signer/signer_service.h"
#include "signer/testing/anvil_fixtures.h"

ABSL_FLAG(double, seconds, 5.0, "duration of each measured run");
ABSL_FLAG(std::string, concurrency, "1,8,64", "client counts to measure");
ABSL_FLAG(std::string, dir, "/tmp", "where the database and audit log go (a real disk for durable numbers)");
ABSL_FLAG(double, raw_seconds, 2.0, "duration of the raw libsecp256k1 measurement (0 skips it)");
ABSL_FLAG(double, row_raw_seconds, 0.25,
          "raw libsecp256k1 signing measured again just before and just after each signing row, this long on 1 "
          "thread and on 2 threads each time; the row's ratios use it (0: the run start's measurement only)");
ABSL_FLAG(bool, engine_only_rows, true, "also measure the engine without gRPC");
ABSL_FLAG(bool, audit_fsync_every_record, false, "fdatasync the audit log per record instead of every 10 ms");
ABSL_FLAG(bool, fee_budget, true, "give the key a 24 h fee budget (checked at every commit with PostgreSQL)");
ABSL_FLAG(std::string, batch_items, "64",
          "SignBatch rows: items per call, each size measured at every --concurrency (empty: unary rows only)");
ABSL_FLAG(bool, serving_process, true,
          "the signer binary's process settings (signer/server/serving_process.h); false: the defaults");
ABSL_FLAG(bool, grpc_floor_rows, true,
          "also measure grpc.health.v1.Health/Check (no work) at every --concurrency on the same serving process: "
          "what gRPC alone costs per call");
ABSL_FLAG(double, fsync_seconds, 1.0, "duration of the lone fsync measurement in --dir (0 skips it)");
ABSL_FLAG(std::string, record, "sqlite,postgres",
          "anti-equivocation records to measure, in this order, in this one run: sqlite (a file in --dir) and/or "
          "postgres (a PostgreSQL 15 server the bench starts in /tmp, durable)");
// Internal: how the bench starts its serving process (this binary again).
ABSL_FLAG(std::string, serve_record, "", "internal: serve this record (sqlite or postgres) and take commands on stdin");
ABSL_FLAG(std::string, serve_dir, "", "internal: the serving process's directory");
ABSL_FLAG(std::string, serve_dsn_file, "", "internal: the PostgreSQL DSN file of the serving process");

namespace {

namespace v1 = onchainkms::signer::v1;
namespace health = grpc::health::v1;

// The no-work rows' rpc: nothing signed, nothing recorded (a status lookup in the server).
constexpr char kNoWorkRpc[] = "Health/Check (no work)";

using signer::fixtures::kSecret;

// Raw signing on `threads` threads: signatures per second (wall clock) and the CPU time of one
// (thread CPU time: on a machine shared with other work the wall clock per signature grows, the
// CPU time does not, so CPU ratios use this).
struct RawSigning {
  double per_second = 0;
  double cpu_us_per_sig = 0;
};

double ThreadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

RawSigning RawSecp256k1(int threads, double seconds) {
  std::atomic<uint64_t> total{0};
  std::mutex mu;
  double cpu = 0;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
      const chain::Bytes key = *chain::FromHex(kSecret);
      chain::Hash32 h = chain::Keccak256(absl::StrCat("bench", t));
      secp256k1_ecdsa_recoverable_signature sig;
      uint64_t n = 0;
      const double cpu0 = ThreadCpuSeconds();
      const absl::Time end = absl::Now() + absl::Seconds(seconds);
      while (absl::Now() < end) {
        for (int i = 0; i < 64; ++i) {
          h.data()[0] = static_cast<uint8_t>(n);
          (void)secp256k1_ecdsa_sign_recoverable(ctx, &sig, h.data(), key.data(), nullptr, nullptr);
          ++n;
        }
      }
      total += n;
      {
        std::lock_guard<std::mutex> lock(mu);
        cpu += ThreadCpuSeconds() - cpu0;
      }
      secp256k1_context_destroy(ctx);
    });
  }
  for (auto& t : ts) t.join();
  const double n = static_cast<double>(total.load());
  return {n / seconds, n > 0 ? cpu * 1e6 / n : 0};
}

// The disk's own flush latency, alone (nothing else of the bench running): 4 KiB written and
// fdatasync'ed, over and over, in a file in `dir` — the record's disk. Overwriting a preallocated
// file is a flush of data only (what a WAL that was reset costs); appending also flushes the
// file's new size (a growing WAL). Returns {p50 overwrite, p50 append} in µs.
struct FsyncLatency {
  double overwrite_p50_us = 0, overwrite_p99_us = 0, append_p50_us = 0, append_p99_us = 0;
};

std::vector<double> TimedFlushes(const std::string& path, bool append, double seconds) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  std::vector<double> us;
  if (fd < 0) return us;
  std::vector<char> block(4096, 'x');
  constexpr int kRing = 64;
  if (!append) {
    for (int i = 0; i < kRing; ++i) (void)::pwrite(fd, block.data(), block.size(), static_cast<off_t>(i) * 4096);
    ::fsync(fd);
  }
  const absl::Time end = absl::Now() + absl::Seconds(seconds);
  for (int i = 0; absl::Now() < end; ++i) {
    const off_t at = static_cast<off_t>(append ? i : i % kRing) * 4096;
    const absl::Time t0 = absl::Now();
    if (::pwrite(fd, block.data(), block.size(), at) != static_cast<ssize_t>(block.size()) || ::fdatasync(fd) != 0) {
      break;
    }
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
  }
  ::close(fd);
  ::unlink(path.c_str());
  std::sort(us.begin(), us.end());
  return us;
}

FsyncLatency MeasureFsync(const std::string& dir, double seconds) {
  FsyncLatency f;
  auto pct = [](const std::vector<double>& v, int p) {
    return v.empty() ? 0.0 : v[std::min(v.size() - 1, v.size() * p / 100)];
  };
  const std::vector<double> over = TimedFlushes(dir + "/fsync-overwrite", false, seconds / 2);
  const std::vector<double> app = TimedFlushes(dir + "/fsync-append", true, seconds / 2);
  f.overwrite_p50_us = pct(over, 50);
  f.overwrite_p99_us = pct(over, 99);
  f.append_p50_us = pct(app, 50);
  f.append_p99_us = pct(app, 99);
  return f;
}

// Times this process's threads went to sleep (voluntary context switches): each is a wake-up
// later, which on this paravirtualized VM costs more than the work of a small request.
uint64_t ProcessSleeps() {
  rusage u;
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_nvcsw);
}

double ProcessCpuSeconds() {
  rusage u;
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Result {
  std::string rpc;  // what the clients called
  int clients;
  double cpu_us_per_tx = 0;          // the serving process's
  double client_cpu_us_per_tx = -1;  // this process's (the gRPC clients); -1: none (engine rows)
  double sleeps_per_call = 0;        // the serving process's threads' (ProcessSleeps)
  double tps;
  double p50_us, p99_us;
  uint64_t commits, records;
  double db_cpu_us_per_tx = 0;  // the PostgreSQL server's processes (0 for SQLite: in-process)
  FsyncLatency fsync;           // one client: the disk's fsync alone, measured just before the row
  // Raw signing just before and just after the row (--row_raw_seconds; per_second 0: not
  // measured). The machine's speed drifts within minutes on a shared VM (raw signing 23.7-40.5 us
  // within one hour, 27-36 us inside one 4 s row), so a row's ratios use the mean of these two.
  RawSigning raw1_before, raw1_after, raw2_before, raw2_after;
  // One client: the serving process's CPU (ms per s) and sleeps per s while it idled meanwhile,
  // its background (audit flush timer, gRPC pollers and timers), paid with or without requests.
  double idle_cpu_ms_per_s = 0, idle_sleeps_per_s = 0;
};

// One raw signature's CPU time and raw signing's rate on 2 threads, around `r` (the mean of just
// before and just after it), or the run start's figures when the row has none.
double RowRawUs(const Result& r, double run_start_us) {
  if (r.raw1_before.per_second <= 0) return run_start_us;
  return (r.raw1_before.cpu_us_per_sig + r.raw1_after.cpu_us_per_sig) / 2;
}
double RowRaw2PerSecond(const Result& r, double run_start) {
  if (r.raw2_before.per_second <= 0) return run_start;
  return (r.raw2_before.per_second + r.raw2_after.per_second) / 2;
}

// The serving process's counters: its store's and its CPU time.
struct ServerCounters {
  uint64_t commits = 0, records = 0;
  double cpu_seconds = 0;
  uint64_t sleeps = 0;

  static ServerCounters Of(const signer::equivocation::Store& store) {
    return {store.commits(), store.records_written(), ProcessCpuSeconds(), ProcessSleeps()};
  }
};

// What a run is measured against: the counters when it starts.
struct RunStart {
  ServerCounters server;
  double client_cpu_seconds = 0;  // this process's, when it runs the clients
  absl::Time time;
};

// The result of `clients` streams or callers that started at `start`, ended with `server`'s
// counters at `end`, and took `latencies` (µs). Each call signed `items_per_call` transactions.
Result Summarize(const RunStart& start, const ServerCounters& end, int clients, std::vector<double> latencies,
                 int items_per_call = 1) {
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start.time);
  std::sort(latencies.begin(), latencies.end());
  const size_t calls = latencies.size();
  const size_t n = calls * static_cast<size_t>(items_per_call);
  Result r;
  r.clients = clients;
  r.tps = static_cast<double>(n) / elapsed;
  r.p50_us = calls == 0 ? 0 : latencies[calls / 2];
  r.p99_us = calls == 0 ? 0 : latencies[std::min(calls - 1, calls * 99 / 100)];
  r.commits = end.commits - start.server.commits;
  r.records = end.records - start.server.records;
  r.cpu_us_per_tx = n == 0 ? 0 : (end.cpu_seconds - start.server.cpu_seconds) * 1e6 / static_cast<double>(n);
  r.sleeps_per_call =
      calls == 0 ? 0 : static_cast<double>(end.sleeps - start.server.sleeps) / static_cast<double>(calls);
  return r;
}

// The signer stack in a child process (this binary with --serve_record), driven over its stdin
// and stdout: "stats" -> "commits records cpu_seconds sleeps"; "engine <callers> <seconds> <nonce base>"
// -> an engine-only row; "quit".
class ServingProcess {
 public:
  static ServingProcess Start(const std::string& record, const std::string& dir, const std::string& dsn_file) {
    int to_child[2], from_child[2];
    if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) {
      std::perror("pipe");
      std::exit(1);
    }
    std::vector<std::string> args = {
        "signer_grpc_bench",
        "--serve_record=" + record,
        "--serve_dir=" + dir,
        "--serve_dsn_file=" + dsn_file,
        absl::StrCat("--fee_budget=", absl::GetFlag(FLAGS_fee_budget)),
        absl::StrCat("--audit_fsync_every_record=", absl::GetFlag(FLAGS_audit_fsync_every_record)),
        absl::StrCat("--serving_process=", absl::GetFlag(FLAGS_serving_process)),
    };
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(to_child[0], 0);
      ::dup2(from_child[1], 1);
      for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) ::close(fd);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      std::_Exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    ServingProcess p;
    p.pid_ = pid;
    p.to_ = ::fdopen(to_child[1], "w");
    p.from_ = ::fdopen(from_child[0], "r");
    p.address_ = p.ReadLine();  // the address once it serves
    if (p.address_.empty()) {
      std::fprintf(stderr, "the serving process did not start\n");
      std::exit(1);
    }
    return p;
  }

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }

  std::string Ask(const std::string& command) {
    std::fprintf(to_, "%s\n", command.c_str());
    std::fflush(to_);
    return ReadLine();
  }

  ServerCounters Counters() {
    ServerCounters c;
    std::vector<std::string> f = absl::StrSplit(Ask("stats"), ' ');
    if (f.size() != 4 || !absl::SimpleAtoi(f[0], &c.commits) || !absl::SimpleAtoi(f[1], &c.records) ||
        !absl::SimpleAtod(f[2], &c.cpu_seconds) || !absl::SimpleAtoi(f[3], &c.sleeps)) {
      std::fprintf(stderr, "the serving process's stats are unreadable\n");
      std::exit(1);
    }
    return c;
  }

  void Stop() {
    (void)Ask("quit");
    std::fclose(to_);
    std::fclose(from_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }

 private:
  std::string ReadLine() {
    char buf[512];
    if (std::fgets(buf, sizeof buf, from_) == nullptr) return "";
    std::string line(buf);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
  }

  pid_t pid_ = 0;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
  std::string address_;
};

// The clients' connections to the serving process: one per client, at most 8 (streams share them).
constexpr int kChannels = 8;
std::vector<std::shared_ptr<grpc::Channel>> Channels(const std::string& address, int clients) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < std::min(clients, kChannels); ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    channels.push_back(grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

// A client run that started at `start` and took `latencies` (µs): its row, with this process's CPU.
Result EndClientRun(ServingProcess& server, const RunStart& start, int clients, std::vector<double> latencies,
                    int items_per_call) {
  const double client_cpu = ProcessCpuSeconds() - start.client_cpu_seconds;
  const double n = static_cast<double>(latencies.size()) * items_per_call;
  Result r = Summarize(start, server.Counters(), clients, std::move(latencies), items_per_call);
  r.client_cpu_us_per_tx = n > 0 ? client_cpu * 1e6 / n : 0;
  return r;
}

// `clients` closed loops on the gRPC callback (async) client API: stream i runs prepare(i), then
// send(i, done) starts its call, whose completion checks the answer and calls done(); done() times
// the call and sends the stream's next one from there until `seconds` have passed. The run starts
// here (after the caller's warm-up) and ends with its row.
Result RunClosedLoops(ServingProcess& server, int clients, double seconds, int items_per_call,
                      const std::function<void(int)>& prepare,
                      const std::function<void(int, std::function<void()>)>& send) {
  struct Stream {
    absl::Time t0;
    std::vector<double> latencies;
  };
  std::vector<Stream> streams(static_cast<size_t>(clients));
  for (Stream& s : streams) s.latencies.reserve(100000);
  std::mutex mu;
  std::condition_variable cv;
  int running = clients;
  absl::Time end;
  std::function<void(int)> issue = [&](int i) {
    Stream& s = streams[static_cast<size_t>(i)];
    prepare(i);
    s.t0 = absl::Now();
    send(i, [&, i] {
      const absl::Time now = absl::Now();
      Stream& done = streams[static_cast<size_t>(i)];
      done.latencies.push_back(absl::ToDoubleMicroseconds(now - done.t0));
      if (now < end) return issue(i);
      std::lock_guard<std::mutex> lock(mu);
      if (--running == 0) cv.notify_one();
    });
  };
  const RunStart start{server.Counters(), ProcessCpuSeconds(), absl::Now()};
  end = start.time + absl::Seconds(seconds);
  for (int i = 0; i < clients; ++i) issue(i);
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return running == 0; });
  }
  std::vector<double> all;
  for (auto& s : streams) all.insert(all.end(), s.latencies.begin(), s.latencies.end());
  return EndClientRun(server, start, clients, std::move(all), items_per_call);
}

// Prints the first few errors of a run.
class ErrorSample {
 public:
  void Add(absl::string_view what) {
    if (count_.fetch_add(1) < 3) std::fprintf(stderr, "error: %.*s\n", static_cast<int>(what.size()), what.data());
  }

 private:
  std::atomic<int> count_{0};
};

// `clients` streams (RunClosedLoops), spread over 8 connections. A call is one unary
// SignAddComposeHash (batch_items 0) or one SignBatch of `batch_items` of them; every item is for
// a fresh nonce, and any refused item is printed as an error.
Result RunClients(ServingProcess& server, int clients, int batch_items, double seconds, uint64_t nonce_base) {
  std::vector<std::unique_ptr<v1::Signer::Stub>> stubs;
  for (auto& channel : Channels(server.address(), clients)) stubs.push_back(v1::Signer::NewStub(channel));
  struct Stream {
    v1::Signer::Stub* stub;
    uint64_t next_nonce;
    v1::SignAddComposeHashRequest request;
    v1::SignedTransaction response;
    v1::SignBatchRequest batch;
    v1::SignBatchResponse batch_response;
    std::unique_ptr<grpc::ClientContext> ctx;
  };
  std::vector<Stream> streams(static_cast<size_t>(clients));
  for (int c = 0; c < clients; ++c) {
    Stream& s = streams[static_cast<size_t>(c)];
    s.stub = stubs[static_cast<size_t>(c % kChannels)].get();
    s.next_nonce = nonce_base + static_cast<uint64_t>(c) * 10000000ull;
    s.request = signer::fixtures::AddComposeHashRequest();
    for (int i = 0; i < batch_items; ++i) *s.batch.add_items()->mutable_add_compose_hash() = s.request;
  }
  // Warm every connection up.
  for (auto& stub : stubs) {
    grpc::ClientContext ctx;
    v1::ListKeysResponse keys;
    (void)stub->ListKeys(&ctx, {}, &keys);
  }
  ErrorSample errors;
  auto prepare = [&](int i) {
    Stream& s = streams[static_cast<size_t>(i)];
    s.ctx = std::make_unique<grpc::ClientContext>();
    if (batch_items == 0) {
      s.request.set_nonce(s.next_nonce++);
      return;
    }
    for (v1::SignBatchItem& item : *s.batch.mutable_items()) item.mutable_add_compose_hash()->set_nonce(s.next_nonce++);
    s.batch_response.Clear();
  };
  auto send = [&](int i, std::function<void()> done) {
    Stream& s = streams[static_cast<size_t>(i)];
    auto completed = [&, &s = s, done = std::move(done)](grpc::Status st) {
      if (!st.ok()) errors.Add(st.error_message());
      for (const v1::SignBatchResult& r : s.batch_response.results()) {
        if (r.code() != 0) errors.Add(r.message());
      }
      done();
    };
    if (batch_items == 0) {
      s.stub->async()->SignAddComposeHash(s.ctx.get(), &s.request, &s.response, std::move(completed));
    } else {
      s.stub->async()->SignBatch(s.ctx.get(), &s.batch, &s.batch_response, std::move(completed));
    }
  };
  Result r = RunClosedLoops(server, clients, seconds, std::max(batch_items, 1), prepare, send);
  r.rpc = batch_items == 0 ? "SignAddComposeHash" : absl::StrCat("SignBatch x", batch_items);
  return r;
}

// The floor under the signing rows: `clients` streams of grpc.health.v1.Health/Check("") as
// RunClients runs its calls (same serving process, connections, callback client). The server only
// looks a status up, so latency, CPU and sleeps per call are gRPC's own (thread hand-offs included).
Result RunNoWorkClients(ServingProcess& server, int clients, double seconds) {
  std::vector<std::unique_ptr<health::Health::Stub>> stubs;
  for (auto& channel : Channels(server.address(), clients)) stubs.push_back(health::Health::NewStub(channel));
  struct Stream {
    health::Health::Stub* stub;
    health::HealthCheckRequest request;  // service "": the whole server
    health::HealthCheckResponse response;
    std::unique_ptr<grpc::ClientContext> ctx;
  };
  std::vector<Stream> streams(static_cast<size_t>(clients));
  for (int c = 0; c < clients; ++c) {
    streams[static_cast<size_t>(c)].stub = stubs[static_cast<size_t>(c % kChannels)].get();
  }
  for (auto& stub : stubs) {  // warm every connection up
    grpc::ClientContext ctx;
    health::HealthCheckResponse response;
    (void)stub->Check(&ctx, {}, &response);
  }
  ErrorSample errors;
  auto prepare = [&](int i) { streams[static_cast<size_t>(i)].ctx = std::make_unique<grpc::ClientContext>(); };
  auto send = [&](int i, std::function<void()> done) {
    Stream& s = streams[static_cast<size_t>(i)];
    s.stub->async()->Check(s.ctx.get(), &s.request, &s.response, [&, &s = s, done = std::move(done)](grpc::Status st) {
      if (!st.ok()) errors.Add(absl::StrCat("health check: ", st.error_message()));
      if (st.ok() && s.response.status() != health::HealthCheckResponse::SERVING)
        errors.Add("health check: not serving");
      done();
    });
  };
  Result r = RunClosedLoops(server, clients, seconds, 1, prepare, send);
  r.rpc = kNoWorkRpc;
  return r;
}

// The same requests straight into the engine (no gRPC): what the signer itself costs.
Result RunEngine(signer::engine::Engine* engine, int callers, double seconds, uint64_t nonce_base,
                 signer::equivocation::Store* store) {
  std::vector<std::vector<double>> latencies(static_cast<size_t>(callers));
  std::vector<std::thread> ts;
  const RunStart start{ServerCounters::Of(*store), 0, absl::Now()};
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
  Result r = Summarize(start, ServerCounters::Of(*store), callers, std::move(all));
  r.rpc = "engine.SignAddComposeHash";
  return r;
}

// A PostgreSQL 15 server of the bench's own (initdb in /tmp, durable: fsync and
// synchronous_commit on, as in production), and the CPU its processes used so far.
struct PostgresForBench {
  std::unique_ptr<platform::postgres::TestServer> server;
  std::string dsn_file;  // the serving process reads its DSN here

  static absl::StatusOr<PostgresForBench> Start() {
    PostgresForBench pg;
    absl::StatusOr<std::unique_ptr<platform::postgres::TestServer>> server =
        platform::postgres::TestServer::Create({.durable = true});
    if (!server.ok()) return server.status();
    pg.server = *std::move(server);
    absl::StatusOr<std::string> file = pg.server->CreateDatabase("signer_bench");
    if (!file.ok()) return file.status();
    pg.dsn_file = *file;
    return pg;
  }

  // utime + stime of the postmaster, its reaped children and its live children (backends).
  double CpuSeconds() const {
    std::ifstream pidfile(server->directory() + "/data/postmaster.pid");
    long postmaster = 0;
    pidfile >> postmaster;
    const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    double total = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      std::ifstream stat(e.path() / "stat");
      std::string line;
      if (!std::getline(stat, line)) continue;
      const size_t close = line.rfind(')');
      if (close == std::string::npos) continue;
      std::vector<std::string> f = absl::StrSplit(line.substr(close + 2), ' ');
      if (f.size() < 15) continue;
      long pid = 0, ppid = 0;
      if (!absl::SimpleAtoi(e.path().filename().string(), &pid) || !absl::SimpleAtoi(f[1], &ppid)) continue;
      if (pid != postmaster && ppid != postmaster) continue;
      // fields after the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
      for (int i : {11, 12, 13, 14}) {
        double v = 0;
        if (pid == postmaster || i < 13) total += absl::SimpleAtod(f[static_cast<size_t>(i)], &v) ? v / tick : 0;
      }
    }
    return total;
  }
};

// 0 (the unary rows), then every --batch_items size.
std::vector<int> BatchSizes() {
  std::vector<int> sizes = {0};
  for (absl::string_view v : absl::StrSplit(absl::GetFlag(FLAGS_batch_items), ',', absl::SkipEmpty())) {
    int n = 0;
    if (absl::SimpleAtoi(v, &n) && n > 0) sizes.push_back(n);
  }
  return sizes;
}

struct BackendResult {
  std::string record;
  std::vector<Result> grpc, engine;
};

// The serving process (--serve_record): the signer (engine + transport + audit, as the binary
// wires them) on its record, serving on a Unix socket in --serve_dir until "quit" on stdin.
int Serve() {
  const std::string record = absl::GetFlag(FLAGS_serve_record);
  const std::string dir = absl::GetFlag(FLAGS_serve_dir);
  std::unique_ptr<signer::equivocation::Store> store;
  if (record == "sqlite") {
    store = *signer::equivocation::SqliteStore::Open(dir + "/ae.sqlite");
  } else {
    store = *signer::equivocation::PostgresStore::Open(
        *platform::postgres::Dsn::FromFile(absl::GetFlag(FLAGS_serve_dsn_file)));
  }
  auto keys = *signer::keystore::KeyStore::FromSecrets({{"bench", *chain::FromHex(kSecret)}});
  onchainkms::signer::v1::Policy p;
  google::protobuf::TextFormat::ParseFromString(R"pb(
    chains { chain_id: 31337 app_contract_addresses: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be"
             max_fee_per_gas_wei: "100000000000" max_priority_fee_per_gas_wei: "10000000000" max_gas_limit: 2000000 })pb",
                                                &p);
  // The benchmark's callers (its own uid over gRPC, the in-process loop) are bound to its key.
  onchainkms::signer::v1::CallerBinding* bench = p.add_callers();
  bench->set_name("bench");
  bench->add_identities(absl::StrCat("uid:", ::getuid()));
  bench->add_identities("insecure");
  bench->add_keys(signer::fixtures::kFrom);
  bench->add_intents(onchainkms::signer::v1::INTENT_ADD_COMPOSE_HASH);
  // The 24 h fee budget: PostgreSQL checks it at commit against every replica's records.
  if (absl::GetFlag(FLAGS_fee_budget))
    p.mutable_default_key_limits()->set_fee_budget_24h_wei("1000000000000000000000000");
  signer::policy::PolicyHolder policy(*signer::policy::CompiledPolicy::Compile(p));
  signer::policy::UsageTracker usage;
  auto audit = *signer::audit::AuditLog::Open(
      dir + "/audit-" + record + ".jsonl",
      absl::GetFlag(FLAGS_audit_fsync_every_record) ? absl::ZeroDuration() : absl::Milliseconds(10));
  signer::engine::Engine engine({keys.get(), &policy, &usage, store.get(), audit.get(), nullptr});
  platform::TransportOptions topts;
  topts.listen.address = "unix:" + dir + "/s-" + record + ".sock";
  topts.restrict_unix_peers = true;
  auto transport = *platform::Transport::Create(topts);
  signer::SignerService service(&engine, *transport);
  if (absl::Status s = transport->Serve({{v1::Signer::service_full_name(), &service}}); !s.ok()) {
    std::fprintf(stderr, "cannot serve: %s\n", s.ToString().c_str());
    return 1;
  }
  transport->health().SetAll(platform::HealthService::kServing);
  std::printf("%s\n", transport->address().c_str());
  std::fflush(stdout);
  std::string command;
  while (std::getline(std::cin, command) && command != "quit") {
    std::vector<std::string> f = absl::StrSplit(command, ' ');
    if (f[0] == "stats") {
      const ServerCounters c = ServerCounters::Of(*store);
      std::printf("%lu %lu %.6f %lu\n", static_cast<unsigned long>(c.commits), static_cast<unsigned long>(c.records),
                  c.cpu_seconds, static_cast<unsigned long>(c.sleeps));
    } else if (f[0] == "engine" && f.size() == 4) {
      int callers = 0;
      double secs = 0;
      uint64_t base = 0;
      (void)absl::SimpleAtoi(f[1], &callers);
      (void)absl::SimpleAtod(f[2], &secs);
      (void)absl::SimpleAtoi(f[3], &base);
      const Result r = RunEngine(&engine, callers, secs, base, store.get());
      std::printf("%.3f %.3f %.3f %lu %lu %.3f %.3f\n", r.tps, r.p50_us, r.p99_us,
                  static_cast<unsigned long>(r.commits), static_cast<unsigned long>(r.records), r.cpu_us_per_tx,
                  r.sleeps_per_call);
    } else {
      std::printf("?\n");
    }
    std::fflush(stdout);
  }
  transport->Shutdown(absl::Seconds(2));
  std::printf("bye\n");
  std::fflush(stdout);
  return 0;
}

// An engine-only row, run in the serving process.
Result RunEngineIn(ServingProcess& server, int callers, double seconds, uint64_t nonce_base) {
  std::vector<std::string> f =
      absl::StrSplit(server.Ask(absl::StrCat("engine ", callers, " ", seconds, " ", nonce_base)), ' ');
  Result r;
  r.rpc = "engine.SignAddComposeHash";
  r.clients = callers;
  if (f.size() != 7 || !absl::SimpleAtod(f[6], &r.sleeps_per_call) || !absl::SimpleAtod(f[0], &r.tps) ||
      !absl::SimpleAtod(f[1], &r.p50_us) || !absl::SimpleAtod(f[2], &r.p99_us) || !absl::SimpleAtoi(f[3], &r.commits) ||
      !absl::SimpleAtoi(f[4], &r.records) || !absl::SimpleAtod(f[5], &r.cpu_us_per_tx)) {
    std::fprintf(stderr, "the serving process's engine row is unreadable\n");
    std::exit(1);
  }
  return r;
}

// The signer in its serving process on `record`, measured at every client count over gRPC, then
// straight into the engine.
BackendResult RunBackend(const std::string& record, const std::string& dsn_file, const std::string& dir,
                         const std::vector<int>& counts, double seconds, const std::function<double()>& database_cpu) {
  ServingProcess server = ServingProcess::Start(record, dir, dsn_file);
  std::printf("%s: serving process pid %d\n", record.c_str(), static_cast<int>(server.pid()));
  std::fflush(stdout);
  BackendResult out{record, {}, {}};
  auto with_db_cpu = [&](Result r, double db_before) {
    if (r.tps > 0) r.db_cpu_us_per_tx = (database_cpu() - db_before) * 1e6 / (r.tps * seconds);
    return r;
  };
  uint64_t base = 0;
  for (int items : BatchSizes()) {  // 0: unary
    for (int c : counts) {
      // The disk's load moves (other work on the machine): one client's row gets its own fsync
      // baseline, taken alone just before it.
      const ServerCounters idle_start = server.Counters();
      const absl::Time idle_t0 = absl::Now();
      const FsyncLatency fsync = c == 1 ? MeasureFsync(dir, 1.0) : FsyncLatency{};
      const ServerCounters idle_end = server.Counters();
      const double idle_seconds = absl::ToDoubleSeconds(absl::Now() - idle_t0);
      const double row_raw = absl::GetFlag(FLAGS_row_raw_seconds);
      RawSigning raw1_before, raw2_before;
      if (row_raw > 0) {
        raw1_before = RawSecp256k1(1, row_raw);
        raw2_before = RawSecp256k1(2, row_raw);
      }
      const double db_before = database_cpu();
      out.grpc.push_back(with_db_cpu(RunClients(server, c, items, seconds, base), db_before));
      out.grpc.back().fsync = fsync;
      if (row_raw > 0) {
        out.grpc.back().raw1_before = raw1_before;
        out.grpc.back().raw2_before = raw2_before;
        out.grpc.back().raw1_after = RawSecp256k1(1, row_raw);
        out.grpc.back().raw2_after = RawSecp256k1(2, row_raw);
      }
      if (c == 1) {
        out.grpc.back().idle_cpu_ms_per_s = (idle_end.cpu_seconds - idle_start.cpu_seconds) * 1e3 / idle_seconds;
        out.grpc.back().idle_sleeps_per_s = static_cast<double>(idle_end.sleeps - idle_start.sleeps) / idle_seconds;
      }
      base += 1000000000ull;
    }
  }
  // After the signing rows, so that they run exactly as without these.
  for (int c : absl::GetFlag(FLAGS_grpc_floor_rows) ? counts : std::vector<int>{}) {
    const double db_before = database_cpu();
    out.grpc.push_back(with_db_cpu(RunNoWorkClients(server, c, seconds), db_before));
  }
  for (int c : absl::GetFlag(FLAGS_engine_only_rows) ? counts : std::vector<int>{}) {
    const double db_before = database_cpu();
    out.engine.push_back(with_db_cpu(RunEngineIn(server, c, seconds, base), db_before));
    base += 1000000000ull;
  }
  server.Stop();
  return out;
}

// `raw_us`: one raw libsecp256k1 signature at this run's start, the unit of "CPU per tx / raw sig"
// for rows without their own measurement around them (RowRawUs).
void PrintTable(const char* title, const std::vector<BackendResult>& results, bool engine_rows, double raw_us) {
  std::printf(
      "\n%s\n\n| record | rpc | clients | signed tx/s | p50 latency (per call) | p99 latency | records per group "
      "commit | signer CPU per tx | CPU per tx / raw sig | signer sleeps per call | client CPU per tx | PostgreSQL CPU "
      "per tx |\n|---|---|---|---|---|---|---|---|---|---|---|"
      "---|\n",
      title);
  bool no_work = false;
  for (const BackendResult& b : results) {
    for (const Result& r : engine_rows ? b.engine : b.grpc) {
      no_work |= r.rpc == kNoWorkRpc;
      std::printf(
          "| %s | %s | %d | %.0f | %.0f us | %.0f us | %s | %.0f us | %.1fx | %.2f | %s | %s |\n", b.record.c_str(),
          r.rpc.c_str(), r.clients, r.tps, r.p50_us, r.p99_us,
          r.rpc == kNoWorkRpc
              ? "-"
              : absl::StrFormat("%.1f",
                                r.commits ? static_cast<double>(r.records) / static_cast<double>(r.commits) : 0.0)
                    .c_str(),
          r.cpu_us_per_tx, r.cpu_us_per_tx / RowRawUs(r, raw_us), r.sleeps_per_call,
          r.client_cpu_us_per_tx < 0 ? "-" : absl::StrCat(static_cast<int>(r.client_cpu_us_per_tx), " us").c_str(),
          b.record == "postgres" ? absl::StrCat(static_cast<int>(r.db_cpu_us_per_tx), " us").c_str() : "-");
    }
  }
  if (no_work) std::printf("\n(%s rows: calls/s and CPU per call; nothing is signed or recorded)\n", kNoWorkRpc);
}

// The goals of the signer's throughput issue, against this run's own baselines: one client's p50
// (unary) within the disk's fsync + 150 us; the best row at 64 clients >= 0.35x raw signing on 2
// threads; CPU per tx <= 2.5 raw signatures.
void PrintGoals(const std::vector<BackendResult>& results, const FsyncLatency& fsync, double raw_us, double raw2) {
  for (const BackendResult& b : results) {
    for (const Result& r : b.grpc) {
      if (r.rpc == kNoWorkRpc) continue;  // PrintFloor's
      if (r.clients == 1) {
        std::printf(
            "%s, 1 client, %s: p50 %.0f us; fsync alone just before: p50 overwrite %.0f us, append %.0f us (this "
            "run's start: %.0f / %.0f us); p50 - fsync = %.0f / %.0f us (goal: <= 150 us); the serving process "
            "idle meanwhile: %.2f ms CPU and %.0f sleeps per second\n",
            b.record.c_str(), r.rpc.c_str(), r.p50_us, r.fsync.overwrite_p50_us, r.fsync.append_p50_us,
            fsync.overwrite_p50_us, fsync.append_p50_us, r.p50_us - r.fsync.overwrite_p50_us,
            r.p50_us - r.fsync.append_p50_us, r.idle_cpu_ms_per_s, r.idle_sleeps_per_s);
      }
      if (r.clients == 64) {
        const double row_raw2 = RowRaw2PerSecond(r, raw2);
        const double row_raw_us = RowRawUs(r, raw_us);
        std::printf(
            "%s, 64 clients, %s: %.0f tx/s = %.2fx raw on 2 threads (goal >= 0.35x), CPU per tx %.1fx a raw "
            "signature (goal <= 2.5x)",
            b.record.c_str(), r.rpc.c_str(), r.tps, r.tps / row_raw2, r.cpu_us_per_tx / row_raw_us);
        if (r.raw1_before.per_second > 0) {
          std::printf(
              "; raw signing just before / after the row: %.0f / %.0f sig/s on 2 threads, %.1f / %.1f us CPU per "
              "signature (run start: %.0f sig/s, %.1f us; with those: %.2fx, %.1fx)",
              r.raw2_before.per_second, r.raw2_after.per_second, r.raw1_before.cpu_us_per_sig,
              r.raw1_after.cpu_us_per_sig, raw2, raw_us, r.tps / raw2, r.cpu_us_per_tx / raw_us);
        }
        std::printf("\n");
      }
    }
  }
}

// One client's goal next to its floor: the lone fsync (just before the unary row) plus a no-work
// call's p50 is what a durable signing call costs at least on this gRPC, before any signing work.
void PrintFloor(const std::vector<BackendResult>& results) {
  for (const BackendResult& b : results) {
    const Result* signing = nullptr;
    const Result* no_work = nullptr;
    for (const Result& r : b.grpc) {
      if (r.clients != 1) continue;
      if (r.rpc == "SignAddComposeHash") signing = &r;
      if (r.rpc == kNoWorkRpc) no_work = &r;
    }
    if (signing == nullptr || no_work == nullptr) continue;
    const double fsync = signing->fsync.overwrite_p50_us;
    const double floor = fsync + no_work->p50_us;
    const double goal = fsync + 150;
    std::printf(
        "%s, 1 client: lone fsync p50 %.0f us (append %.0f us), gRPC no-work p50 %.0f us (%s), signing p50 %.0f us "
        "(SignAddComposeHash): floor = fsync + gRPC no-work p50 = %.0f us; goal fsync + 150 us = %.0f us: %s\n",
        b.record.c_str(), fsync, signing->fsync.append_p50_us, no_work->p50_us, kNoWorkRpc, signing->p50_us, floor,
        goal,
        floor <= goal
            ? absl::StrFormat("reachable only if signing's own work adds <= %.0f us", goal - floor).c_str()
            : absl::StrFormat("unreachable on this gRPC (floor %.0f us over the goal)", floor - goal).c_str());
  }
}

// PostgreSQL next to SQLite: tx/s ratio per client count (same run, same machine).
void PrintRatios(const std::vector<BackendResult>& results) {
  const BackendResult* sqlite = nullptr;
  const BackendResult* pg = nullptr;
  for (const BackendResult& b : results) (b.record == "sqlite" ? sqlite : pg) = &b;
  if (sqlite == nullptr || pg == nullptr) return;
  std::printf(
      "\nPostgreSQL / SQLite, signed tx/s over gRPC:\n\n| rpc | clients | SQLite | PostgreSQL | ratio "
      "|\n|---|---|---|---|---|\n");
  for (size_t i = 0; i < sqlite->grpc.size() && i < pg->grpc.size(); ++i) {
    std::printf("| %s | %d | %.0f | %.0f | %.2fx |\n", sqlite->grpc[i].rpc.c_str(), sqlite->grpc[i].clients,
                sqlite->grpc[i].tps, pg->grpc[i].tps, pg->grpc[i].tps / sqlite->grpc[i].tps);
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_serving_process)) signer::server::ConfigureServingProcess();  // as the signer binary
  if (!absl::GetFlag(FLAGS_serve_record).empty()) return Serve();
  const double seconds = absl::GetFlag(FLAGS_seconds);
  std::vector<int> counts;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_concurrency), ',')) {
    int n = 0;
    if (absl::SimpleAtoi(s, &n) && n > 0) counts.push_back(n);
  }
  const std::string dir = absl::StrCat(absl::GetFlag(FLAGS_dir), "/signer-bench-", ::getpid());
  std::filesystem::create_directories(dir);

  const double raw_seconds = absl::GetFlag(FLAGS_raw_seconds);
  const RawSigning raw1 = raw_seconds > 0 ? RawSecp256k1(1, raw_seconds) : RawSigning{1, 1};
  const RawSigning raw2 = raw_seconds > 0 ? RawSecp256k1(2, raw_seconds) : RawSigning{1, 1};
  if (raw_seconds > 0)
    std::printf(
        "raw libsecp256k1 secp256k1_ecdsa_sign_recoverable: %.0f sig/s on 1 thread (%.1f us/sig wall, %.1f us CPU), "
        "%.0f sig/s on 2 threads (%.1f us CPU/sig)\n",
        raw1.per_second, 1e6 / raw1.per_second, raw1.cpu_us_per_sig, raw2.per_second, raw2.cpu_us_per_sig);
  const double fsync_seconds = absl::GetFlag(FLAGS_fsync_seconds);
  const FsyncLatency fsync = fsync_seconds > 0 ? MeasureFsync(dir, fsync_seconds) : FsyncLatency{};
  std::printf(
      "fsync alone in %s (4 KiB pwrite + fdatasync): overwrite p50 %.0f us p99 %.0f us; append p50 %.0f us p99 %.0f "
      "us\n",
      dir.c_str(), fsync.overwrite_p50_us, fsync.overwrite_p99_us, fsync.append_p50_us, fsync.append_p99_us);
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  std::printf("load average at start: %.2f (2 vCPUs shared with other builds); allocator: %s\n", load[0],
              signer::server::AllocatorInUse().c_str());

  std::vector<BackendResult> results;
  for (absl::string_view record : absl::StrSplit(absl::GetFlag(FLAGS_record), ',')) {
    if (record == "sqlite") {
      std::printf("sqlite: record in %s (WAL, synchronous=FULL: one fsync per group commit)\n", dir.c_str());
      results.push_back(RunBackend("sqlite", "", dir, counts, seconds, [] { return 0.0; }));
    } else if (record == "postgres") {
      absl::StatusOr<PostgresForBench> pg = PostgresForBench::Start();
      if (!pg.ok()) {
        std::fprintf(stderr, "cannot start PostgreSQL: %s\n", pg.status().ToString().c_str());
        return 1;
      }
      std::printf("postgres: PostgreSQL 15 in %s (Unix socket, fsync and synchronous_commit on)\n",
                  pg->server->directory().c_str());
      results.push_back(RunBackend("postgres", pg->dsn_file, dir, counts, seconds, [&] { return pg->CpuSeconds(); }));
    } else {
      std::fprintf(stderr, "--record: sqlite or postgres, not %s\n", std::string(record).c_str());
      return 2;
    }
    std::fflush(stdout);
  }
  const double raw_us = raw1.cpu_us_per_sig;  // CPU per tx is CPU time too
  PrintTable("Over gRPC on the unix socket:", results, false, raw_us);
  if (absl::GetFlag(FLAGS_engine_only_rows))
    PrintTable("Same requests straight into the engine, no gRPC:", results, true, raw_us);
  PrintRatios(results);
  std::printf("\n");
  PrintGoals(results, fsync, raw_us, raw2.per_second);
  PrintFloor(results);
  std::filesystem::remove_all(dir);
  return 0;
}
