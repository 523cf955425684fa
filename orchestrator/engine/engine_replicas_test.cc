// Several OperationManagers ("replicas") on one PostgreSQL journal, a real server started by the
// test (docs/design/postgres-replicas.md § 4): a replica that stops heartbeating has its operation
// taken over once its lease expires and completed exactly once, its own late write refused; one
// request_id sent to two replicas at once gives one operation; a Cancel sent to a replica that
// does not run the operation cancels it; values supplied to a third replica run an operation
// that waits for them.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "orchestrator/engine/manager.h"
#include "orchestrator/engine/remote_watch.h"
#include "orchestrator/journal/postgres_change_feed.h"
#include "orchestrator/journal/postgres_journal.h"
#include "platform/postgres/shared_server.h"

namespace orchestrator::engine {
namespace {

using platform::postgres::Dsn;

// The X25519 base point: a valid env-encryption public key.
constexpr char kPublicKey[] = "0900000000000000000000000000000000000000000000000000000000000000";

// What the flows of every replica did, together.
struct Probe {
  absl::Notification release;  // step "a" finishes once notified
  std::atomic<int> runs{0};
  std::atomic<int> may_have_run{0};
  std::atomic<int> a_succeeded{0};
  std::atomic<int> encrypted{0};
};

// Step "a" waits for `release`; then, when the request has env values, step "encrypt" needs them.
class HeldFlow final : public Flow {
 public:
  explicit HeldFlow(Probe& probe) : probe_(probe) {}
  std::vector<std::string> InitialSteps(const state::FlowState&) const override { return {"a", "encrypt"}; }
  absl::Status Run(OpContext& ctx) override {
    absl::Status s = ctx.RunStep("a", [&](StepRun& run) {
      ++probe_.runs;
      if (run.may_have_run()) ++probe_.may_have_run;
      while (!probe_.release.WaitForNotificationWithTimeout(absl::Milliseconds(10))) {
        if (!ctx.Sleep(absl::ZeroDuration())) return absl::CancelledError("stop");
      }
      absl::Status done = run.Succeed(nullptr, "done");
      if (done.ok()) ++probe_.a_succeeded;
      return done;
    });
    if (!s.ok()) return s;
    if (!ctx.State().needs_env_values()) return ctx.Skip("encrypt", "no env values");
    return ctx.RunStep("encrypt", [&](StepRun& run) {
      absl::StatusOr<std::optional<std::string>> c = ctx.EncryptEnvValues(kPublicKey);
      if (!c.ok()) return c.status();
      if (!c->has_value()) return ctx.WaitForInput(run.name(), "values lost");
      ++probe_.encrypted;
      ctx.ForgetEnvValues();
      return run.Succeed(nullptr);
    });
  }

 private:
  Probe& probe_;
};

// One replica: its own connections to the database and its own manager.
struct Replica {
  Replica(const Dsn& dsn, const std::string& id, Probe& probe) {
    absl::StatusOr<std::unique_ptr<journal::PostgresJournal>> j = journal::PostgresJournal::Open(dsn);
    EXPECT_TRUE(j.ok()) << j.status();
    journal = *std::move(j);
    absl::StatusOr<std::unique_ptr<journal::PostgresChangeFeed>> feed = journal::PostgresChangeFeed::Open(dsn);
    EXPECT_TRUE(feed.ok()) << feed.status();
    follower = std::make_unique<ChangeFollower>(*std::move(feed));
    follower->Start();
    FlowRegistry flows;
    flows[v1::OPERATION_KIND_UPDATE_ENV_VARS] = std::make_unique<HeldFlow>(probe);
    ManagerOptions options;
    options.workers = 4;
    options.owner_id = id;
    options.lease.ttl = absl::Milliseconds(1500);
    options.lease.heartbeat_interval = absl::Milliseconds(300);
    options.lease.claim_interval = absl::Milliseconds(200);
    options.run.retry_timeout = absl::Seconds(1);
    options.run.initial_backoff = absl::Milliseconds(10);
    options.run.max_backoff = absl::Milliseconds(300);
    options.remote_watch = follower.get();
    manager = std::make_unique<OperationManager>(*journal, deps, std::move(flows), options);
    const absl::Status s = manager->Start();
    EXPECT_TRUE(s.ok()) << s;
  }
  ~Replica() {
    manager->Shutdown(absl::Seconds(5));
    follower->Stop();
  }

  FlowDeps deps;
  std::unique_ptr<journal::PostgresJournal> journal;
  std::unique_ptr<ChangeFollower> follower;
  std::unique_ptr<OperationManager> manager;
};

// Replicas "a" and "b" on a new database.
struct TwoReplicas {
  Dsn dsn = platform::postgres::TestDatabase();
  Probe probe;
  Replica a{dsn, "a", probe};
  Replica b{dsn, "b", probe};
};

Submission Request(const std::string& request_id, bool env = false) {
  Submission s;
  s.caller = "uid:1";
  s.request_id = request_id;
  s.kind = v1::OPERATION_KIND_UPDATE_ENV_VARS;
  s.request = "body";
  s.request_digest = "digest-body";
  s.cvm_id = "cvm-1";
  if (env) {
    s.env_keys = {"K"};
    s.needs_env_values = true;
    s.env_values = {cloudapi::EnvVar{"K", "secret"}};
  }
  return s;
}

// Polls `get` until `done` or 20 s pass; the last operation read.
template <typename Get, typename Done>
v1::Operation AwaitOp(Get get, Done done) {
  v1::Operation op;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<v1::Operation> got = get();
    if (got.ok()) {
      op = *got;
      if (done(op)) break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return op;
}

bool Finished(const v1::Operation& op) { return IsTerminal(op.state()); }

// The event types of one Watch stream, and how it ended.
class Stream final : public WatchSink {
 public:
  void Push(const v1::OperationEvent& event) override {
    absl::MutexLock l(&mu_);
    types_.push_back(event.type());
    last_ = event.operation();
  }
  void Close(const absl::Status& status) override {
    absl::MutexLock l(&mu_);
    end_ = status;
    ended_ = true;
  }
  // OK once it ended OK after a terminal event; what it ended with otherwise (or DEADLINE).
  absl::Status AwaitEnd(absl::Duration timeout) {
    absl::MutexLock l(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&ended_), timeout);
    if (!ended_) return absl::DeadlineExceededError("still open");
    return end_;
  }
  int Count(v1::OperationEvent::Type type) {
    absl::MutexLock l(&mu_);
    return static_cast<int>(std::count(types_.begin(), types_.end(), type));
  }
  v1::OperationState last_state() {
    absl::MutexLock l(&mu_);
    return last_.state();
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::OperationEvent::Type> types_ ABSL_GUARDED_BY(mu_);
  v1::Operation last_ ABSL_GUARDED_BY(mu_);
  absl::Status end_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

// Submits `request` to `replica` and waits until its step "a" runs there; the operation's id.
std::string SubmitAndAwaitStepA(Replica& replica, Probe& probe, Submission request) {
  absl::StatusOr<v1::Operation> op = replica.manager->Submit(std::move(request));
  EXPECT_TRUE(op.ok()) << op.status();
  if (!op.ok()) return "";
  while (probe.runs.load() == 0) absl::SleepFor(absl::Milliseconds(5));
  return op->id();
}

void AwaitActive(Replica& replica, size_t n) {
  for (int i = 0; i < 200 && replica.manager->active_operations() != n; ++i) absl::SleepFor(absl::Milliseconds(10));
}

TEST(EngineReplicasTest, AReplicaThatStopsHeartbeatingIsTakenOverAndTheOperationCompletesOnce) {
  TwoReplicas r;
  const std::string id = SubmitAndAwaitStepA(r.a, r.probe, Request("r1"));
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(r.probe.runs.load(), 1) << "a's lease is live: b takes nothing";
  auto stream = std::make_shared<Stream>();
  ASSERT_TRUE(r.a.manager->Watch(id, stream).ok());

  r.a.manager->lease_keeper()->PauseHeartbeatsForTest(true);  // as if a hung
  while (r.probe.runs.load() < 2) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(r.probe.may_have_run.load(), 1) << "b resumes the RUNNING step as after a restart";
  EXPECT_FALSE(r.a.manager->LeaseHealth().ok()) << "a fenced itself";
  EXPECT_EQ(r.b.journal->Get(id)->owner, "b");

  r.probe.release.Notify();  // both bodies finish; only b's result may be written
  const v1::Operation done = AwaitOp([&] { return r.b.manager->Get(id); }, Finished);
  EXPECT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  // A staged result is not a write: a's (when its body got that far) rode on its next write,
  // which was refused (lease lost); the stream below shows the one result that was journaled.
  EXPECT_GE(r.probe.a_succeeded.load(), 1);
  AwaitActive(r.a, 0);
  EXPECT_EQ(r.a.manager->active_operations(), 0u) << "a dropped it";
  // b's runtime ends just after its terminal write, which Get above may already have read.
  AwaitActive(r.b, 0);
  EXPECT_EQ(r.b.manager->active_operations(), 0u);
  EXPECT_EQ(r.a.manager->Get(id)->state(), v1::OPERATION_STATE_SUCCEEDED) << "any replica reads it";
  // The Watch sent to a goes on from the change log after a lost the operation, to the end.
  EXPECT_TRUE(stream->AwaitEnd(absl::Seconds(10)).ok());
  EXPECT_EQ(stream->last_state(), v1::OPERATION_STATE_SUCCEEDED);
  EXPECT_EQ(stream->Count(v1::OperationEvent::TYPE_STEP_SUCCEEDED), 1) << "step a, once (on b)";
  EXPECT_EQ(stream->Count(v1::OperationEvent::TYPE_STEP_SKIPPED), 1) << "encrypt";
}

TEST(EngineReplicasTest, OneRequestIdSentToTwoReplicasAtOnceGivesOneOperation) {
  TwoReplicas r;
  r.probe.release.Notify();
  absl::Notification go;
  std::vector<std::string> ids(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      go.WaitForNotification();
      absl::StatusOr<v1::Operation> op = (t % 2 == 0 ? r.a : r.b).manager->Submit(Request("same"));
      ASSERT_TRUE(op.ok()) << op.status();
      ids[t] = op->id();
    });
  }
  go.Notify();
  for (std::thread& t : threads) t.join();
  for (const std::string& id : ids) EXPECT_EQ(id, ids[0]);
  journal::ListQuery q;
  EXPECT_EQ(r.a.journal->List(q)->size(), 1u);
  const v1::Operation done = AwaitOp([&] { return r.b.manager->Get(ids[0]); }, Finished);
  EXPECT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED);
  EXPECT_EQ(r.probe.runs.load(), 1);
}

TEST(EngineReplicasTest, ACancelSentToAReplicaThatDoesNotRunTheOperationCancelsIt) {
  TwoReplicas r;
  const std::string id = SubmitAndAwaitStepA(r.a, r.probe, Request("r1"));
  absl::StatusOr<v1::Operation> cancelled = r.b.manager->Cancel(id);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->state(), v1::OPERATION_STATE_CANCELLED) << cancelled->DebugString();
  EXPECT_EQ(r.a.journal->Get(id)->state, v1::OPERATION_STATE_CANCELLED);
  AwaitActive(r.a, 0);
  EXPECT_EQ(r.a.manager->active_operations(), 0u);
  EXPECT_EQ(r.probe.a_succeeded.load(), 0);
  EXPECT_EQ(r.b.manager->Cancel(id)->state(), v1::OPERATION_STATE_CANCELLED) << "again: the same answer";
}

TEST(EngineReplicasTest, ValuesLostWithTheirReplicaAreSuppliedToAnotherOne) {
  TwoReplicas r;
  const std::string id = SubmitAndAwaitStepA(r.a, r.probe, Request("r1", /*env=*/true));
  r.a.manager->lease_keeper()->PauseHeartbeatsForTest(true);  // the values die with a
  while (r.probe.runs.load() < 2) absl::SleepFor(absl::Milliseconds(10));
  r.probe.release.Notify();
  const v1::Operation waiting =
      AwaitOp([&] { return r.b.manager->Get(id); },
              [](const v1::Operation& o) { return o.state() == v1::OPERATION_STATE_WAITING_FOR_INPUT; });
  ASSERT_EQ(waiting.state(), v1::OPERATION_STATE_WAITING_FOR_INPUT) << waiting.DebugString();
  for (int i = 0; i < 200 && !r.b.journal->Get(id)->owner.empty(); ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(r.b.journal->Get(id)->owner, "") << "released while it waits";

  Replica c(r.dsn, "c", r.probe);
  EXPECT_EQ(c.manager->SupplyEnvVars(id, "s1", {cloudapi::EnvVar{"K", "wrong"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.journal->Get(id)->owner, "") << "a refused supply leaves it for any replica";
  absl::StatusOr<v1::Operation> supplied = c.manager->SupplyEnvVars(id, "s1", {cloudapi::EnvVar{"K", "secret"}});
  ASSERT_TRUE(supplied.ok()) << supplied.status();
  const v1::Operation done = AwaitOp([&] { return r.b.manager->Get(id); }, Finished);
  EXPECT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(r.probe.encrypted.load(), 1);
  EXPECT_EQ(c.journal->Get(id)->owner, "c");
}

TEST(EngineReplicasTest, AReplicaWhoseLeaseRanOutPausesAndGoesOnOnceItIsRenewed) {
  const Dsn dsn = platform::postgres::TestDatabase();
  Probe probe;
  Replica a(dsn, "a", probe);
  const std::string id = SubmitAndAwaitStepA(a, probe, Request("r1"));
  a.manager->lease_keeper()->PauseHeartbeatsForTest(true);
  while (a.manager->LeaseHealth().ok()) absl::SleepFor(absl::Milliseconds(20));
  absl::SleepFor(absl::Seconds(1));  // the lease in the database ran out too
  probe.release.Notify();            // the write carrying its result is refused: the operation pauses
  while (a.manager->JournalHealth().ok()) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(a.journal->Get(id)->state, v1::OPERATION_STATE_RUNNING);
  EXPECT_EQ(probe.a_succeeded.load(), 1) << "staged, not journaled";

  a.manager->lease_keeper()->PauseHeartbeatsForTest(false);  // nobody took it meanwhile
  const v1::Operation done = AwaitOp([&] { return a.manager->Get(id); }, Finished);
  EXPECT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(probe.runs.load(), 1) << "its staged result was written once the lease was renewed";
  EXPECT_EQ(probe.may_have_run.load(), 0);
  EXPECT_EQ(probe.a_succeeded.load(), 1);
  EXPECT_TRUE(a.manager->LeaseHealth().ok());
  EXPECT_EQ(a.journal->Get(id)->lease_epoch, 1) << "never claimed by anyone";
}

}  // namespace
}  // namespace orchestrator::engine
