// The engine on a PostgresJournal while the real server goes away: a step whose result cannot be
// written pauses its operation (health UNAVAILABLE), and when the server is back the operation
// resumes, the step told that it may already have run, and finishes.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "orchestrator/engine/manager.h"
#include "orchestrator/journal/postgres_journal.h"
#include "platform/postgres/shared_server.h"

namespace orchestrator::engine {
namespace {

using platform::postgres::SharedServer;

// One step, "a", that waits for `release` and counts its runs.
class HeldFlow final : public Flow {
 public:
  std::vector<std::string> InitialSteps(const state::FlowState&) const override { return {"a"}; }
  absl::Status Run(OpContext& ctx) override {
    return ctx.RunStep("a", [&](StepRun& run) {
      ++runs;
      if (run.may_have_run()) ++may_have_run;
      while (!release.WaitForNotificationWithTimeout(absl::Milliseconds(10))) {
        if (!ctx.Sleep(absl::ZeroDuration())) return absl::CancelledError("stop");
      }
      return run.Succeed(nullptr, "done");
    });
  }

  absl::Notification release;
  std::atomic<int> runs{0};
  std::atomic<int> may_have_run{0};
};

TEST(EnginePostgresTest, AServerOutagePausesTheOperationAndItResumesAfterwards) {
  absl::StatusOr<std::unique_ptr<journal::PostgresJournal>> journal =
      journal::PostgresJournal::Open(platform::postgres::TestDatabase());
  ASSERT_TRUE(journal.ok()) << journal.status();
  auto flow = std::make_unique<HeldFlow>();
  HeldFlow& held = *flow;
  FlowRegistry flows;
  flows[v1::OPERATION_KIND_UPDATE_ENV_VARS] = std::move(flow);
  ManagerOptions options;
  options.workers = 2;
  options.run.retry_timeout = absl::Seconds(1);
  options.run.initial_backoff = absl::Milliseconds(10);
  FlowDeps deps;
  OperationManager manager(**journal, deps, std::move(flows), options);
  ASSERT_TRUE(manager.Start().ok());
  Submission s;
  s.caller = "uid:1";
  s.request_id = "r1";
  s.kind = v1::OPERATION_KIND_UPDATE_ENV_VARS;
  s.request = "body";
  s.request_digest = "digest-body";
  s.cvm_id = "cvm-1";
  absl::StatusOr<v1::Operation> op = manager.Submit(s);
  ASSERT_TRUE(op.ok()) << op.status();
  while (held.runs.load() == 0) absl::SleepFor(absl::Milliseconds(5));

  ASSERT_TRUE(SharedServer().Stop().ok());
  held.release.Notify();  // the write carrying its result now fails
  while (manager.JournalHealth().ok()) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(manager.JournalHealth().code(), absl::StatusCode::kUnavailable);
  absl::SleepFor(absl::Seconds(2));  // longer than the steps' retry window: still paused, not failed
  EXPECT_EQ(manager.Get(op->id())->state(), v1::OPERATION_STATE_RUNNING);
  ASSERT_TRUE(SharedServer().Start().ok());

  v1::Operation done;
  for (int i = 0; i < 1000; ++i) {
    done = *manager.Get(op->id());
    if (done.state() == v1::OPERATION_STATE_SUCCEEDED || done.state() == v1::OPERATION_STATE_FAILED) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(held.runs.load(), 1) << "its result, kept staged, was written after the outage";
  EXPECT_EQ(held.may_have_run.load(), 0);
  EXPECT_TRUE(manager.JournalHealth().ok());
  EXPECT_EQ((*journal)->Get(op->id())->state, v1::OPERATION_STATE_SUCCEEDED);
  manager.Shutdown(absl::Seconds(5));
}

}  // namespace
}  // namespace orchestrator::engine
