// Three orchestrator replicas on one PostgreSQL journal, 60 concurrent operations, kill -9 of two
// replicas at random moments, one of them twice (design § 9.1). Every call k goes to replica
// k mod 3 (ReplicaClient retries the same request_id on the next replica when one is down), every
// operation is followed with WatchOperation on a random replica, and the operations a takeover
// leaves WAITING_FOR_INPUT (their env values died with the replica) get SupplyEnvVars on yet
// another replica. Asserts: every operation SUCCEEDED and reads the same on all replicas;
// takeovers happened; exactly one AppAuth per deploy and one compose-hash transaction per
// two-phase update, on chain and in the simulator; no nonce used twice, none left open; Watch
// streams whole; no secret in any log.
//
// The seed of the killer is printed; --gtest_random_seed=N repeats it.
#include <atomic>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/e2e/exactly_once.h"
#include "orchestrator/e2e/replica_client.h"
#include "orchestrator/e2e/stack.h"
#include "orchestrator/e2e/stack_test.h"

namespace orchestrator::e2e {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kReplicas = 3;
constexpr int kWarmUp = 20;   // deploys whose CVMs the updates change; not counted
constexpr int kDeploys = 40;  // the load: kDeploys deploys + kUpdates two-phase updates at once
constexpr int kUpdates = 20;
constexpr int kOperations = kDeploys + kUpdates;
constexpr absl::Duration kOperationTimeout = absl::Minutes(4);

class ReplicasE2eTest : public StackTest<> {
 protected:
  static void SetUpTestSuite() {
    StackOptions options;
    options.postgres = true;
    options.signer_postgres = true;
    options.replicas = kReplicas;
    options.block_time = absl::Seconds(2);  // transactions are in flight when a replica dies
    options.lease_ttl = absl::Seconds(2);
    options.heartbeat_interval = absl::Milliseconds(500);
    options.claim_interval = absl::Milliseconds(250);
    StartStack(options, /*start_orchestrator=*/false);
    if (stack_ == nullptr) return;
    for (int i = 0; i < kReplicas; ++i) {
      absl::Status s = stack_->StartReplica(i);
      ASSERT_TRUE(s.ok()) << s;
    }
  }
  // On failure: each replica's log tail here, and the whole logs in the test's undeclared outputs
  // (Stack::KeepLogs): a failure after a takeover is traced through the operation's whole history,
  // which a tail rarely holds.
  void TearDown() override {
    if (!HasFailure()) return;
    for (int i = 0; i < kReplicas; ++i) {
      const std::string log = stack_->replica_log(i);
      std::fprintf(stderr, "---- %s log (tail) ----\n%s\n", Stack::ReplicaId(i).c_str(),
                   log.substr(std::max<size_t>(log.size(), 20000) - 20000).c_str());
    }
    if (const std::string kept = stack_->KeepLogs(); !kept.empty()) {
      std::fprintf(stderr, "(every log of the stack: %s)\n", kept.c_str());
    }
  }
};

// One operation of the load, from the client's side.
struct Tracked {
  bool deploy = true;
  std::string request_id;
  std::string cvm;  // updates: the warm-up CVM
  std::string app;  // updates: its app
  v1::DeployCvmRequest deploy_request;
  std::string id;
  v1::Operation done;
  ReplicaClient::Watched watched;
  bool supplied = false;  // needed SupplyEnvVars after a takeover
  absl::Status status;
};

v1::UpdateDockerComposeRequest ComposeUpdate(const Tracked& t) {
  v1::UpdateDockerComposeRequest r;
  r.set_request_id(t.request_id);
  r.set_cvm_id(t.cvm);
  r.set_docker_compose_file(
      absl::StrCat("services:\n  app:\n    image: nginx:1.27\n    command: [\"", t.request_id, "\"]\n"));
  return r;
}

// Runs one operation to its end as a client would: submit on replica k mod N, watch on a random
// replica (again on the next one if the stream breaks), supply the env values if a takeover asks.
void Drive(ReplicaClient& client, Tracked& t, int k, uint32_t seed) {
  std::mt19937 rng(seed);
  absl::StatusOr<v1::Operation> op =
      t.deploy ? client.Deploy(t.deploy_request, k) : client.UpdateDockerCompose(ComposeUpdate(t), k);
  if (!op.ok()) {
    t.status = op.status();
    return;
  }
  t.id = op->id();
  const absl::Time deadline = absl::Now() + kOperationTimeout;
  while (absl::Now() < deadline) {
    const int watch_on = static_cast<int>(rng() % kReplicas);
    ReplicaClient::Watched w = client.Watch(t.id, watch_on, deadline - absl::Now());
    if (w.status.ok()) t.watched = w;
    absl::StatusOr<v1::Operation> now =
        client.WaitFor(t.id, watch_on + 1, absl::Seconds(5), v1::OPERATION_STATE_WAITING_FOR_INPUT);
    if (!now.ok()) continue;  // not finished yet: watch again
    if (now->state() != v1::OPERATION_STATE_WAITING_FOR_INPUT) {
      t.done = *now;
      return;
    }
    v1::SupplyEnvVarsRequest supply;
    supply.set_request_id(t.request_id + "-supply");
    supply.set_operation_id(t.id);
    *supply.mutable_env_vars() = t.deploy_request.env_vars();
    absl::StatusOr<v1::Operation> s = client.SupplyEnvVars(supply, watch_on + 2);
    if (s.ok()) t.supplied = true;
  }
  t.status = absl::DeadlineExceededError(absl::StrCat(t.request_id, " (", t.id, ") did not finish"));
}

// True when replica `i` owns a running operation and a transaction is in flight (a nonce slot
// RESERVED or SIGNED), so that killing it now forces a real takeover.
bool BusyWithATransaction(Stack& stack, platform::postgres::Connection& db, int i) {
  absl::StatusOr<platform::postgres::Result> owned = db.Execute(
      absl::StrCat("SELECT count(*) FROM operations WHERE owner = '", Stack::ReplicaId(i), "' AND state IN (1, 2)"));
  if (!owned.ok() || owned->Int(0, 0).value_or(0) == 0) return false;
  absl::StatusOr<platform::postgres::Result> open =
      db.Execute("SELECT count(*) FROM nonce_slots WHERE state IN (1, 2)");
  if (open.ok()) return open->Int(0, 0).value_or(0) > 0;
  absl::StatusOr<json::value> latest =
      stack.anvil().Call("eth_getTransactionCount", json::array{stack.signer_address(), "latest"});
  absl::StatusOr<json::value> pending =
      stack.anvil().Call("eth_getTransactionCount", json::array{stack.signer_address(), "pending"});
  return latest.ok() && pending.ok() && latest->as_string() != pending->as_string();
}

// Waits until `at`, then until replica i is busy with a transaction (at most 20 s more), then
// kill -9; restarts it 1 s later. Runs on the test's main thread: a child dies with the thread
// that started it (PR_SET_PDEATHSIG).
absl::Time KillAndRestart(Stack& stack, platform::postgres::Connection& db, int i, absl::Time at) {
  absl::SleepFor(at - absl::Now());
  const absl::Time busy_until = absl::Now() + absl::Seconds(20);
  while (!BusyWithATransaction(stack, db, i) && absl::Now() < busy_until) absl::SleepFor(absl::Milliseconds(20));
  const bool busy = BusyWithATransaction(stack, db, i);
  EXPECT_TRUE(stack.KillReplica(i).ok());
  std::fprintf(stderr, "killed %s (%s)\n", Stack::ReplicaId(i).c_str(),
               busy ? "owning a running operation, a transaction in flight" : "not busy: waited 20 s");
  absl::SleepFor(absl::Seconds(1));
  absl::Status s = stack.StartReplica(i);
  EXPECT_TRUE(s.ok()) << s;
  return absl::Now();
}

absl::Duration Uniform(std::mt19937& rng, int from_ms, int to_ms) {
  return absl::Milliseconds(std::uniform_int_distribution<int>(from_ms, to_ms)(rng));
}

bool UpdatedBefore(const v1::Operation& a, const v1::Operation& b) {
  return std::make_pair(a.update_time().seconds(), a.update_time().nanos()) <
         std::make_pair(b.update_time().seconds(), b.update_time().nanos());
}

// Sequences 1..n, SNAPSHOT first, the terminal state last, update_time never going back, and a
// step SUCCEEDED at most once after its last STARTED.
void ExpectWholeStream(const Tracked& t) {
  const std::vector<v1::OperationEvent>& events = t.watched.events;
  if (events.empty()) return;  // no stream reached the end (every one was cut by a kill)
  EXPECT_EQ(events.front().type(), v1::OperationEvent::TYPE_SNAPSHOT) << t.id;
  EXPECT_EQ(events.back().operation().state(), v1::OPERATION_STATE_SUCCEEDED) << t.id;
  std::map<std::string, int> succeeded_since_start;
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].sequence(), i + 1) << t.id;
    if (i > 0) EXPECT_FALSE(UpdatedBefore(events[i].operation(), events[i - 1].operation())) << t.id;
    if (events[i].type() == v1::OperationEvent::TYPE_STEP_STARTED) succeeded_since_start[events[i].step()] = 0;
    if (events[i].type() == v1::OperationEvent::TYPE_STEP_SUCCEEDED) {
      EXPECT_LE(++succeeded_since_start[events[i].step()], 1) << t.id << " step " << events[i].step();
    }
  }
}

// No nonce used twice, none left open: every slot closed, the mined ones contiguous, each mined
// transaction one of its slot's signed versions.
void ExpectNoncesClosed(Stack& stack, platform::postgres::Connection& db) {
  absl::StatusOr<platform::postgres::Result> open =
      db.Execute("SELECT count(*) FROM nonce_slots WHERE state IN (1, 2)");
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_EQ(*open->Int(0, 0), 0) << "nonce slots still RESERVED or SIGNED";
  absl::StatusOr<platform::postgres::Result> mined =
      db.Execute("SELECT min(nonce), max(nonce), count(*) FROM nonce_slots WHERE state = 3");
  ASSERT_TRUE(mined.ok()) << mined.status();
  EXPECT_EQ(*mined->Int(0, 1) - *mined->Int(0, 0) + 1, *mined->Int(0, 2)) << "a hole in the mined nonces";
  absl::StatusOr<json::value> latest =
      stack.anvil().Call("eth_getTransactionCount", json::array{stack.signer_address(), "latest"});
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(*mined->Int(0, 1) + 1, static_cast<int64_t>(std::stoull(std::string(latest->as_string()), nullptr, 16)));
  absl::StatusOr<platform::postgres::Result> versions = db.Execute(
      "SELECT s.nonce, encode(v.tx_hash, 'hex') FROM nonce_slots s JOIN nonce_versions v USING "
      "(chain_id, sender, nonce) WHERE s.state = 3");
  ASSERT_TRUE(versions.ok()) << versions.status();
  std::map<int64_t, std::set<std::string>> signed_hashes;
  for (int r = 0; r < versions->rows(); ++r) signed_hashes[*versions->Int(r, 0)].insert("0x" + versions->Text(r, 1));
  int mined_found = 0;
  for (const auto& [nonce, hashes] : signed_hashes) {
    for (const std::string& h : hashes) {
      absl::StatusOr<json::value> receipt = stack.anvil().Call("eth_getTransactionReceipt", json::array{h});
      if (receipt.ok() && receipt->is_object()) ++mined_found;
    }
  }
  EXPECT_EQ(mined_found, static_cast<int>(signed_hashes.size())) << "one mined version per mined nonce";
}

TEST_F(ReplicasE2eTest, SixtyOperationsSurviveKillNineOfTwoReplicas) {
  const uint32_t seed = static_cast<uint32_t>(::testing::UnitTest::GetInstance()->random_seed());
  std::fprintf(stderr, "killer seed %u (--gtest_random_seed=%u repeats it)\n", seed, seed);
  std::mt19937 rng(seed);
  ReplicaClient client(*stack_);
  absl::StatusOr<std::unique_ptr<platform::postgres::Connection>> db = stack_->ConnectJournal();
  ASSERT_TRUE(db.ok()) << db.status();

  // Warm-up: the CVMs the updates change.
  std::vector<Tracked> load(kOperations);
  {
    std::vector<Tracked> warm(kWarmUp);
    std::vector<std::thread> threads;
    for (int k = 0; k < kWarmUp; ++k) {
      warm[k].request_id = absl::StrCat("warm-", k);
      warm[k].deploy_request = stack_->DeployRequest(warm[k].request_id, absl::StrCat("rep-warm-", k));
      threads.emplace_back([&, k] { Drive(client, warm[k], k, seed + k); });
    }
    for (std::thread& t : threads) t.join();
    for (int k = 0; k < kWarmUp; ++k) {
      ASSERT_TRUE(warm[k].status.ok()) << warm[k].status;
      ASSERT_EQ(warm[k].done.state(), v1::OPERATION_STATE_SUCCEEDED) << warm[k].done.ShortDebugString();
    }
    for (int u = 0; u < kUpdates; ++u) {
      Tracked& t = load[kDeploys + u];
      t.deploy = false;
      t.request_id = absl::StrCat("update-", u);
      t.cvm = warm[u].done.deploy().cvm_id();
      t.app = warm[u].done.deploy().app_id();
    }
  }
  for (int d = 0; d < kDeploys; ++d) {
    load[d].request_id = absl::StrCat("deploy-", d);
    load[d].deploy_request = stack_->DeployRequest(load[d].request_id, absl::StrCat("rep-load-", d));
  }
  ASSERT_TRUE(stack_->AddFault(R"({"kind":"latency","latency_ms":1500,"path_prefix":"/cvms","method":"POST"})").ok());
  ASSERT_TRUE(stack_->AddFault(R"({"kind":"latency","latency_ms":1500,"path_prefix":"/cvms","method":"PATCH"})").ok());
  absl::StatusOr<EffectCounts> before = CountEffects(*stack_);
  ASSERT_TRUE(before.ok()) << before.status();

  // The load, all at once; the killer on this thread.
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int k = 0; k < kOperations; ++k) {
    threads.emplace_back([&, k] { Drive(client, load[k], k, seed * 31 + k); });
  }
  // The load lasts ~15 s (2 s blocks, 1.5 s simulator latency): the kills fall inside it.
  absl::Time r1_back = KillAndRestart(*stack_, **db, 1, start + Uniform(rng, 500, 3000));
  KillAndRestart(*stack_, **db, 2, std::max(absl::Now(), start + Uniform(rng, 1000, 5000)));
  KillAndRestart(*stack_, **db, 1, std::max(absl::Now(), r1_back + Uniform(rng, 500, 2000)));
  for (std::thread& t : threads) t.join();
  std::fprintf(stderr, "load done in %s; %d calls failed over\n", absl::FormatDuration(absl::Now() - start).c_str(),
               client.failovers());

  // 1. Every operation SUCCEEDED and reads the same (same update_time, steps, result) on every replica.
  std::vector<v1::Operation> deploys;
  std::vector<FinishedUpdate> updates;
  int supplied = 0;
  for (const Tracked& t : load) {
    ASSERT_TRUE(t.status.ok()) << t.status;
    supplied += t.supplied ? 1 : 0;
    for (int i = 0; i < kReplicas; ++i) {
      absl::StatusOr<v1::Operation> got = client.Get(t.id, i, /*wait_for_ready=*/true);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->ShortDebugString(), t.done.ShortDebugString()) << t.id << " on " << Stack::ReplicaId(i);
    }
    if (t.deploy) {
      deploys.push_back(t.done);
    } else {
      updates.push_back({t.done, t.app});
    }
    ExpectWholeStream(t);
  }
  std::fprintf(stderr, "%d operations needed SupplyEnvVars after a takeover\n", supplied);

  // 2. Takeovers happened, and resumed a step.
  absl::StatusOr<platform::postgres::Result> taken =
      (*db)->Execute("SELECT count(*) FROM operations WHERE lease_epoch >= 2");
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_GE(*taken->Int(0, 0), 3);
  if (absl::StatusOr<platform::postgres::Result> by = (*db)->Execute(
          "SELECT owner, lease_epoch, state, count(*) FROM operations GROUP BY 1, 2, 3 ORDER BY 1, 2, 3");
      by.ok()) {
    for (int r = 0; r < by->rows(); ++r) {
      std::fprintf(stderr, "operations: owner '%s' epoch %lld state %lld: %lld\n", by->Text(r, 0).c_str(),
                   static_cast<long long>(*by->Int(r, 1)), static_cast<long long>(*by->Int(r, 2)),
                   static_cast<long long>(*by->Int(r, 3)));
    }
  }
  int resumed = 0;
  for (const Tracked& t : load) {
    for (const v1::Step& step : t.done.steps()) resumed += step.attempts() >= 2 ? 1 : 0;
  }
  EXPECT_GE(resumed, 1) << "no step ran twice: no kill hit a running step";

  // 3–5. Exactly once on chain and in the simulator; nonces.
  ExpectExactlyOnce(*stack_, *before, deploys, updates);
  ExpectSignerRecordMatchesChain(*stack_, deploys, updates);
  ExpectNoncesClosed(*stack_, **db);

  // 7. No env value, API key or DSN password in any log.
  for (int i = 0; i < kReplicas; ++i) {
    const std::string log = stack_->replica_log(i);
    EXPECT_THAT(log, Not(HasSubstr(stack_->postgres().app_password()))) << Stack::ReplicaId(i);
    EXPECT_THAT(log, Not(HasSubstr("s3cr3t-value-for-"))) << Stack::ReplicaId(i);
    EXPECT_THAT(log, Not(HasSubstr(cloudsim::testing::SimInstance::kApiKey))) << Stack::ReplicaId(i);
  }
}

}  // namespace
}  // namespace orchestrator::e2e
