// Watch on a replica that does not run the operation (remote_watch.h), with a real PostgreSQL 15:
// two managers on one database, the operation runs on A, and a Watch on B gets the same events
// as a Watch on A, byte for byte, up to the terminal one, also when the server stops and starts
// in the middle. B is never Start()ed, so it does not resume A's operations (claims come with
// leases, design § 4).
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "orchestrator/engine/manager.h"
#include "orchestrator/engine/remote_watch.h"
#include "orchestrator/journal/postgres_change_feed.h"
#include "orchestrator/journal/postgres_journal.h"
#include "platform/postgres/shared_server.h"
#include "platform/status_macros.h"

namespace orchestrator::engine {
namespace {

using platform::postgres::SharedServer;

const std::string kTx1 = absl::StrCat("0x", std::string(64, 'a'));
const std::string kTx2 = absl::StrCat("0x", std::string(64, 'b'));

// Step "send" waits for `release`, then reports a transaction; step "confirm" fails once
// transiently (STEP_RETRYING), then reports the transaction mined.
class TxFlow final : public Flow {
 public:
  std::vector<std::string> InitialSteps(const state::FlowState&) const override { return {"send", "confirm"}; }
  absl::Status Run(OpContext& ctx) override {
    RETURN_IF_ERROR(ctx.RunStep("send", [&](StepRun& run) {
      if (!held.HasBeenNotified()) held.Notify();
      while (!release.WaitForNotificationWithTimeout(absl::Milliseconds(10))) {
        if (!ctx.Sleep(absl::ZeroDuration())) return absl::CancelledError("stop");
      }
      RETURN_IF_ERROR(run.Progress("sent", kTx1));
      return run.Succeed(nullptr, "sent");
    }));
    return ctx.RunStep("confirm", [&](StepRun& run) {
      if (confirm_attempts.fetch_add(1) == 0) return absl::UnavailableError("rpc: connection refused");
      RETURN_IF_ERROR(run.Progress("mined in block 7", kTx2, 7));
      return run.Succeed(nullptr, "confirmed");
    });
  }

  absl::Notification held;
  absl::Notification release;
  std::atomic<int> confirm_attempts{0};
};

// Records a stream.
class Recorder final : public WatchSink {
 public:
  void Push(const v1::OperationEvent& event) override {
    absl::MutexLock l(&mu_);
    events_.push_back(event);
  }
  void Close(const absl::Status& status) override {
    absl::MutexLock l(&mu_);
    close_ = status;
    closes_++;
    if (!closed_.HasBeenNotified()) closed_.Notify();
  }
  bool WaitClosed(absl::Duration d) { return closed_.WaitForNotificationWithTimeout(d); }
  std::vector<v1::OperationEvent> events() {
    absl::MutexLock l(&mu_);
    return events_;
  }
  absl::Status close() {
    absl::MutexLock l(&mu_);
    return close_;
  }
  int closes() {
    absl::MutexLock l(&mu_);
    return closes_;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::OperationEvent> events_ ABSL_GUARDED_BY(mu_);
  absl::Status close_ ABSL_GUARDED_BY(mu_);
  int closes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Notification closed_;
};

std::string Bytes(const v1::OperationEvent& e) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  e.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

// Replica A runs operations; replica B only answers (its manager is not started).
struct TwoReplicas {
  explicit TwoReplicas(const ChangeFollowerOptions& follow = {}) : dsn(platform::postgres::TestDatabase()) {
    journal_a = *journal::PostgresJournal::Open(dsn);
    journal_b = *journal::PostgresJournal::Open(dsn);
    absl::StatusOr<std::unique_ptr<journal::PostgresChangeFeed>> feed = journal::PostgresChangeFeed::Open(dsn);
    EXPECT_TRUE(feed.ok()) << feed.status();
    follower_b = std::make_unique<ChangeFollower>(*std::move(feed), follow);
    follower_b->Start();
    auto f = std::make_unique<TxFlow>();
    flow = f.get();
    FlowRegistry flows_a;
    flows_a[v1::OPERATION_KIND_UPDATE_ENV_VARS] = std::move(f);
    ManagerOptions options{.workers = 2,
                           .run = {.initial_backoff = absl::Milliseconds(10), .max_backoff = absl::Milliseconds(200)}};
    a = std::make_unique<OperationManager>(*journal_a, deps, std::move(flows_a), options);
    options.remote_watch = follower_b.get();
    b = std::make_unique<OperationManager>(*journal_b, deps, FlowRegistry(), options);
    EXPECT_TRUE(a->Start().ok());
  }
  ~TwoReplicas() {
    a->Shutdown(absl::Seconds(5));
    follower_b->Stop();
  }

  v1::Operation Submit(absl::string_view request_id) {
    absl::StatusOr<v1::Operation> op = a->Submit(Submission{.caller = "uid:1",
                                                            .request_id = std::string(request_id),
                                                            .kind = v1::OPERATION_KIND_UPDATE_ENV_VARS,
                                                            .request = "body",
                                                            .request_digest = "digest-body",
                                                            .cvm_id = "cvm-1"});
    EXPECT_TRUE(op.ok()) << op.status();
    return *op;
  }

  // Submits an operation on A and, while its first step is held, watches it on A and on B.
  std::pair<std::shared_ptr<Recorder>, std::shared_ptr<Recorder>> SubmitAndWatchOnBoth() {
    const v1::Operation op = Submit("r1");
    id = op.id();
    EXPECT_TRUE(flow->held.WaitForNotificationWithTimeout(absl::Seconds(10)));
    auto on_a = std::make_shared<Recorder>();
    auto on_b = std::make_shared<Recorder>();
    EXPECT_TRUE(a->Watch(id, on_a).ok());
    EXPECT_TRUE(b->Watch(id, on_b).ok());
    return {on_a, on_b};
  }

  const platform::postgres::Dsn dsn;
  FlowDeps deps;
  std::unique_ptr<journal::PostgresJournal> journal_a;
  std::unique_ptr<journal::PostgresJournal> journal_b;
  std::unique_ptr<ChangeFollower> follower_b;
  TxFlow* flow = nullptr;
  std::unique_ptr<OperationManager> a;
  std::unique_ptr<OperationManager> b;
  std::string id;  // of the operation SubmitAndWatchOnBoth submitted
};

// Both streams, from the same starting version: the same snapshot content, then the same events.
void ExpectSameStreams(Recorder& on_a, Recorder& on_b) {
  ASSERT_TRUE(on_a.WaitClosed(absl::Seconds(30)));
  ASSERT_TRUE(on_b.WaitClosed(absl::Seconds(30)));
  EXPECT_TRUE(on_a.close().ok()) << on_a.close();
  EXPECT_TRUE(on_b.close().ok()) << on_b.close();
  EXPECT_EQ(on_b.closes(), 1);
  const std::vector<v1::OperationEvent> ea = on_a.events();
  const std::vector<v1::OperationEvent> eb = on_b.events();
  ASSERT_FALSE(ea.empty());
  ASSERT_FALSE(eb.empty());
  EXPECT_EQ(eb[0].type(), v1::OperationEvent::TYPE_SNAPSHOT);
  EXPECT_EQ(ea[0].operation().SerializeAsString(), eb[0].operation().SerializeAsString());
  ASSERT_EQ(ea.size(), eb.size());
  for (size_t i = 1; i < ea.size(); ++i) {
    EXPECT_EQ(Bytes(ea[i]), Bytes(eb[i]))
        << "event " << i << "\nA: " << ea[i].ShortDebugString() << "\nB: " << eb[i].ShortDebugString();
  }
}

// The events after the snapshot, as "TYPE step tx detail" lines.
std::vector<std::string> Summary(const std::vector<v1::OperationEvent>& events) {
  std::vector<std::string> out;
  for (size_t i = 1; i < events.size(); ++i) {
    const v1::OperationEvent& e = events[i];
    out.push_back(absl::StrCat(v1::OperationEvent::Type_Name(e.type()).substr(5), " ", e.step(), " ",
                               e.transaction_hash(), " ", e.detail()));
  }
  return out;
}

TEST(RemoteWatchPostgresTest, AWatchOnAnotherReplicaGetsTheSameEventsAsOnTheOwner) {
  ChangeFollowerOptions follow;
  follow.batch = 3;  // the log is read in several pages
  TwoReplicas r(follow);
  auto [on_a, on_b] = r.SubmitAndWatchOnBoth();
  r.flow->release.Notify();
  ExpectSameStreams(*on_a, *on_b);
  const std::vector<v1::OperationEvent> events = on_b->events();
  EXPECT_EQ(Summary(events), (std::vector<std::string>{
                                 absl::StrCat("STEP_PROGRESS send ", kTx1, " sent"),
                                 "STEP_SUCCEEDED send  sent",
                                 "STEP_STARTED confirm  ",
                                 "STEP_RETRYING confirm  retrying in 0.01s after: rpc: connection refused",
                                 "STEP_STARTED confirm  resumed",
                                 absl::StrCat("STEP_PROGRESS confirm ", kTx2, " mined in block 7"),
                                 "STEP_SUCCEEDED confirm  confirmed",
                                 "STATE_CHANGED   succeeded",
                             }));
  EXPECT_EQ(events.back().operation().state(), v1::OPERATION_STATE_SUCCEEDED);
  EXPECT_EQ(events.back().operation().steps(1).transaction_hash(), kTx2);
  EXPECT_EQ(r.follower_b->watchers(), 0u);

  // A watcher handed over at a version (here: from the start) gets every change after it.
  auto replay = std::make_shared<Recorder>();
  r.follower_b->Follow(r.id, 0, replay);
  ASSERT_TRUE(replay->WaitClosed(absl::Seconds(10)));
  EXPECT_TRUE(replay->close().ok()) << replay->close();
  const std::vector<v1::OperationEvent> all = replay->events();
  ASSERT_EQ(all.size(), events.size() + 1) << "the log also has 'started' and STEP_STARTED send, not the snapshot";
  EXPECT_EQ(all[0].detail(), "started");
  EXPECT_EQ(all[1].type(), v1::OperationEvent::TYPE_STEP_STARTED);
  for (size_t i = 1; i < events.size(); ++i) EXPECT_EQ(Bytes(all[i + 1]), Bytes(events[i])) << i;

  // Finished: a new Watch on B gets the snapshot and ends; an unknown id is NOT_FOUND.
  auto late = std::make_shared<Recorder>();
  ASSERT_TRUE(r.b->Watch(r.id, late).ok());
  ASSERT_TRUE(late->WaitClosed(absl::Seconds(1)));
  ASSERT_EQ(late->events().size(), 1u);
  EXPECT_EQ(late->events()[0].operation().state(), v1::OPERATION_STATE_SUCCEEDED);
  EXPECT_EQ(r.b->Watch("op_unknown", std::make_shared<Recorder>()).code(), absl::StatusCode::kNotFound);
}

TEST(RemoteWatchPostgresTest, AServerRestartDuringAWatchLosesAndRepeatsNothing) {
  // No periodic read within the test's time: what happened while B's listener was away must come
  // from the catch-up after its reconnection.
  ChangeFollowerOptions follow;
  follow.poll_interval = absl::Minutes(10);
  TwoReplicas r(follow);
  auto [on_a, on_b] = r.SubmitAndWatchOnBoth();
  absl::SleepFor(absl::Milliseconds(300));  // B has read the log once (nothing new)

  ASSERT_TRUE(SharedServer().Stop().ok());
  r.flow->release.Notify();  // A's next write fails: the operation pauses
  while (r.a->JournalHealth().ok()) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(on_b->WaitClosed(absl::Milliseconds(500))) << "the stream outlives the outage";
  ASSERT_TRUE(SharedServer().Start().ok());

  ExpectSameStreams(*on_a, *on_b);
  std::vector<std::string> summary = Summary(on_b->events());
  ASSERT_FALSE(summary.empty());
  EXPECT_EQ(summary.back(), "STATE_CHANGED   succeeded");
  EXPECT_EQ(
      std::count(summary.begin(), summary.end(), absl::StrCat("STEP_PROGRESS confirm ", kTx2, " mined in block 7")), 1);
}

TEST(RemoteWatchPostgresTest, TheChangeLogOfFinishedOperationsIsPrunedAfterTheRetention) {
  TwoReplicas r;
  const v1::Operation op = r.Submit("r1");
  auto on_b = std::make_shared<Recorder>();
  ASSERT_TRUE(r.b->Watch(op.id(), on_b).ok());
  r.flow->release.Notify();
  ASSERT_TRUE(on_b->WaitClosed(absl::Seconds(30)));
  absl::StatusOr<std::unique_ptr<journal::PostgresChangeFeed>> feed = journal::PostgresChangeFeed::Open(r.dsn);
  ASSERT_TRUE(feed.ok()) << feed.status();
  absl::StatusOr<journal::ChangeBatch> log = (*feed)->ChangesSince(op.id(), 0, 100);
  ASSERT_TRUE(log.ok()) << log.status();
  // Step results, and the starts of steps without an effect, ride on the next write
  // (op_context.h): 5 writes with events (send's RUNNING and progress, confirm's retry and
  // progress, the end), not 9.
  EXPECT_GE(log->changes.size(), 5u) << "every write with events has its entry";
  EXPECT_EQ(log->state, v1::OPERATION_STATE_SUCCEEDED);
  EXPECT_EQ((*feed)->PruneFinished(absl::Now() - absl::Hours(1)).value_or(-1), 0) << "finished just now: kept";
  EXPECT_EQ((*feed)->PruneFinished(absl::Now() + absl::Minutes(1)).value_or(-1),
            static_cast<int64_t>(log->changes.size()));
  log = (*feed)->ChangesSince(op.id(), 0, 100);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE(log->changes.empty());
  // A Watch of it still works: the record is its snapshot.
  auto late = std::make_shared<Recorder>();
  ASSERT_TRUE(r.b->Watch(op.id(), late).ok());
  ASSERT_TRUE(late->WaitClosed(absl::Seconds(1)));
  EXPECT_TRUE(late->close().ok());
}

}  // namespace
}  // namespace orchestrator::engine
