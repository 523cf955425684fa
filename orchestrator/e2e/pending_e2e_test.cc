// The real processes while a transaction is pending (anvil with automine off, so the AppAuth
// deployment stays in the pool until the test mines): CancelOperation is refused and the
// operation then completes; a WatchOperation client that reconnects after the orchestrator is
// killed (SIGKILL) and restarted sees every change, as the API's reconnect rule promises (a fresh
// snapshot, then one event per change). The chain verdicts come from anvil itself
// (eth_getTransactionCount "pending" vs "latest", the KMS's AppDeployed logs).
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/e2e/stack.h"
#include "orchestrator/e2e/stack_test.h"
#include "platform/testing/server_process.h"
#include "platform/testing/wait_for.h"

namespace orchestrator::e2e {
namespace {

using ::testing::HasSubstr;

class PendingE2eTest : public StackTest<> {
 protected:
  static void SetUpTestSuite() { StartStack(); }
  void SetUp() override {
    StackTest::SetUp();
    ASSERT_TRUE(stack_->anvil().SetAutomine(false).ok());
  }
  void TearDown() override {
    (void)stack_->anvil().SetAutomine(true);
    if (!stack_->OrchestratorRunning()) (void)stack_->StartOrchestrator();
    StackTest::TearDown();
  }

  // Transactions of the deployer (the signer's key) that anvil holds in its pool, unmined.
  static int PendingInPool() {
    auto count = [](const char* tag) -> int64_t {
      absl::StatusOr<boost::json::value> n =
          stack_->anvil().Call("eth_getTransactionCount", boost::json::array{stack_->signer_address(), tag});
      return n.ok() && n->is_string() ? std::stoll(std::string(n->as_string()), nullptr, 16) : -1;
    };
    return static_cast<int>(count("pending") - count("latest"));
  }

  static bool WaitPendingInPool(absl::Duration timeout = absl::Seconds(30)) {
    return platform::testing::WaitFor([] { return PendingInPool() > 0; }, timeout, absl::Milliseconds(20));
  }

  static grpc::Status Supply(const std::string& id, const std::string& rid, const std::string& name) {
    v1::SupplyEnvVarsRequest supply;
    supply.set_request_id(rid + "-supply");
    supply.set_operation_id(id);
    *supply.mutable_env_vars() = stack_->DeployRequest(rid, name).env_vars();
    grpc::ClientContext ctx;
    v1::Operation out;
    return stack_->stub().SupplyEnvVars(&ctx, supply, &out);
  }
};

TEST_F(PendingE2eTest, CancelWhileTheTransactionIsPendingIsRefusedAndTheOperationCompletes) {
  const int apps = *stack_->CountAppDeployed();
  absl::StatusOr<v1::Operation> op = stack_->Deploy(stack_->DeployRequest("pending-cancel", "e2e-pending-cancel"));
  ASSERT_TRUE(op.ok()) << op.status();
  ASSERT_TRUE(WaitPendingInPool()) << "the AppAuth deployment never reached anvil's pool";

  grpc::ClientContext ctx;
  v1::CancelOperationRequest c;
  c.set_operation_id(op->id());
  v1::Operation ignored;
  const grpc::Status s = stack_->stub().CancelOperation(&ctx, c, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("transaction"));
  EXPECT_EQ(PendingInPool(), 1) << "the refusal left the transaction where it was";
  absl::StatusOr<v1::Operation> now = stack_->Get(op->id());
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->state(), v1::OPERATION_STATE_RUNNING) << now->DebugString();

  ASSERT_TRUE(stack_->anvil().SetAutomine(true).ok());
  ASSERT_TRUE(stack_->anvil().Mine().ok());
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op->id(), absl::Seconds(40));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  EXPECT_EQ(*stack_->CountAppDeployed(), apps + 1);
  EXPECT_EQ(PendingInPool(), 0);
}

// One WatchOperation stream to its end, read by its own thread; the test can wait for what it
// has delivered so far.
class Stream {
 public:
  Stream(Stack& stack, const std::string& id) : reader_([this, &stack, id] { Read(stack, id); }) {}
  ~Stream() { Join(); }
  void Join() {
    if (reader_.joinable()) reader_.join();
  }
  // Waits until an event delivered so far satisfies `pred`.
  bool WaitFor(const std::function<bool(const v1::OperationEvent&)>& pred, absl::Duration timeout) {
    absl::MutexLock l(&mu_);
    auto seen = [&] {
      for (const v1::OperationEvent& e : events_) {
        if (pred(e)) return true;
      }
      return done_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
    for (const v1::OperationEvent& e : events_) {
      if (pred(e)) return true;
    }
    return false;
  }
  // After Join().
  const std::vector<v1::OperationEvent>& events() const { return events_; }
  const grpc::Status& status() const { return status_; }

 private:
  void Read(Stack& stack, const std::string& id) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
    v1::WatchOperationRequest req;
    req.set_operation_id(id);
    std::unique_ptr<grpc::ClientReader<v1::OperationEvent>> reader = stack.stub().WatchOperation(&ctx, req);
    for (v1::OperationEvent ev; reader->Read(&ev);) {
      absl::MutexLock l(&mu_);
      events_.push_back(ev);
    }
    grpc::Status status = reader->Finish();
    absl::MutexLock l(&mu_);
    status_ = std::move(status);
    done_ = true;
  }

  absl::Mutex mu_;
  std::vector<v1::OperationEvent> events_;
  grpc::Status status_;
  bool done_ = false;
  std::thread reader_;  // last: starts once the rest is built
};

std::map<std::string, v1::StepState> StepStates(const v1::Operation& op) {
  std::map<std::string, v1::StepState> out;
  for (const v1::Step& s : op.steps()) out[s.name()] = s.state();
  return out;
}

// Every change between two consecutive operations a stream delivered is announced by an event of
// that change (events of one change carry the same operation, the one after it): a step whose
// state changed is named by a step event, an operation state change has a STATE_CHANGED event.
// Also: sequence numbers 1, 2, 3, ... and a SNAPSHOT first.
void ExpectEveryChangeAnnounced(const std::vector<v1::OperationEvent>& events, const std::string& which) {
  ASSERT_FALSE(events.empty()) << which;
  EXPECT_EQ(events[0].type(), v1::OperationEvent::TYPE_SNAPSHOT) << which;
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].sequence(), i + 1) << which;
  v1::Operation before = events[0].operation();
  for (size_t i = 1; i < events.size();) {
    const v1::Operation& after = events[i].operation();
    std::set<std::string> named;
    bool state_event = false;
    size_t j = i;
    for (; j < events.size() &&
           events[j].operation().update_time().SerializeAsString() == after.update_time().SerializeAsString();
         ++j) {
      named.insert(events[j].step());
      state_event |= events[j].type() == v1::OperationEvent::TYPE_STATE_CHANGED;
    }
    const std::map<std::string, v1::StepState> was = StepStates(before), is = StepStates(after);
    for (const auto& [step, state] : is) {
      if (was.count(step) == 0 || was.at(step) != state) {
        EXPECT_TRUE(named.count(step) > 0) << which << ": step " << step << " became " << v1::StepState_Name(state)
                                           << " without an event (events " << i + 1 << ".." << j << ")";
      }
    }
    if (before.state() != after.state()) {
      EXPECT_TRUE(state_event) << which << ": the operation became " << v1::OperationState_Name(after.state())
                               << " without a STATE_CHANGED event (events " << i + 1 << ".." << j << ")";
    }
    before = after;
    i = j;
  }
}

int Rank(v1::StepState s) { return s == v1::STEP_STATE_PENDING ? 0 : s == v1::STEP_STATE_RUNNING ? 1 : 2; }

TEST_F(PendingE2eTest, WatchReconnectingAfterAKillAndRestartMissesNoChange) {
  const int apps = *stack_->CountAppDeployed();
  absl::StatusOr<v1::Operation> op = stack_->Deploy(stack_->DeployRequest("pending-watch", "e2e-pending-watch"));
  ASSERT_TRUE(op.ok()) << op.status();
  auto first = std::make_unique<Stream>(*stack_, op->id());
  ASSERT_TRUE(WaitPendingInPool()) << "the AppAuth deployment never reached anvil's pool";
  ASSERT_TRUE(first->WaitFor(
      [](const v1::OperationEvent& e) { return e.step() == "deploy_app_auth" && !e.transaction_hash().empty(); },
      absl::Seconds(30)))
      << "the first stream announced the AppAuth transaction";
  ASSERT_TRUE(stack_->KillOrchestrator().ok());
  first->Join();
  EXPECT_FALSE(first->status().ok()) << "the stream broke with the process";
  // While it is down the transaction is mined: a change the first stream cannot see.
  ASSERT_TRUE(stack_->anvil().SetAutomine(true).ok());
  ASSERT_TRUE(stack_->anvil().Mine().ok());
  ASSERT_TRUE(stack_->StartOrchestrator().ok());

  // The documented reconnect: watch again (a fresh snapshot, then every change). The env values
  // died with the process, so the operation asks for them (WAITING_FOR_INPUT) and gets them.
  auto second = std::make_unique<Stream>(*stack_, op->id());
  ASSERT_TRUE(second->WaitFor(
      [](const v1::OperationEvent& e) { return e.operation().state() == v1::OPERATION_STATE_WAITING_FOR_INPUT; },
      absl::Seconds(40)))
      << "the reconnected stream shows the operation asking for its env values";
  const grpc::Status supplied = Supply(op->id(), "pending-watch", "e2e-pending-watch");
  EXPECT_TRUE(supplied.ok()) << supplied.error_message();
  second->Join();
  EXPECT_TRUE(second->status().ok()) << second->status().error_message();

  const std::vector<v1::OperationEvent>& before = first->events();
  const std::vector<v1::OperationEvent>& after = second->events();
  ExpectEveryChangeAnnounced(before, "before the kill");
  ExpectEveryChangeAnnounced(after, "after the restart");
  ASSERT_FALSE(before.empty());
  ASSERT_FALSE(after.empty());
  // The snapshot after the restart goes on from where the first stream stopped (no step went
  // back), and the stream ends on the terminal change.
  const std::map<std::string, v1::StepState> last_seen = StepStates(before.back().operation());
  for (const auto& [step, state] : StepStates(after[0].operation())) {
    EXPECT_GE(Rank(state), Rank(last_seen.at(step))) << step << " went back across the restart";
  }
  const v1::OperationEvent& end = after.back();
  EXPECT_EQ(end.type(), v1::OperationEvent::TYPE_STATE_CHANGED);
  EXPECT_EQ(end.operation().state(), v1::OPERATION_STATE_SUCCEEDED) << end.operation().DebugString();
  for (const v1::Step& s : end.operation().steps()) {
    EXPECT_TRUE(s.state() == v1::STEP_STATE_SUCCEEDED || s.state() == v1::STEP_STATE_SKIPPED) << s.DebugString();
  }
  EXPECT_EQ(*stack_->CountAppDeployed(), apps + 1) << "one AppAuth, not a second one after the restart";
}

// The chain's first RPC endpoint is a closed port: deploys succeed on the second (anvil) without
// a step ever retrying, also after the dead one's cooldown has passed and it is tried again.
class FailoverE2eTest : public StackTest<> {
 protected:
  static void SetUpTestSuite() {
    StackOptions o;
    o.rpc_endpoints_before = {absl::StrCat("http://127.0.0.1:", platform::testing::FreeTcpPort())};
    // Only the dead endpoint may fail a call (at once: connection refused), not a slow machine.
    o.rpc_timeout = absl::Seconds(10);
    o.signer_timeout = absl::Seconds(10);
    StartStack(o);
  }
};

TEST_F(FailoverE2eTest, DeploySucceedsWithTheFirstRpcEndpointDead) {
  const int apps = *stack_->CountAppDeployed();
  for (int i = 0; i < 2; ++i) {
    if (i > 0) absl::SleepFor(absl::Seconds(3));  // past the dead endpoint's 2 s cooldown
    const std::string rid = absl::StrCat("failover-", i);
    absl::StatusOr<v1::Operation> op = stack_->Deploy(stack_->DeployRequest(rid, "e2e-" + rid));
    ASSERT_TRUE(op.ok()) << op.status();
    absl::StatusOr<v1::Operation> done = stack_->WaitFor(op->id(), absl::Seconds(40));
    ASSERT_TRUE(done.ok()) << done.status();
    EXPECT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
    for (const v1::Step& step : done->steps()) EXPECT_EQ(step.attempts(), 1) << step.DebugString();
  }
  EXPECT_EQ(*stack_->CountAppDeployed(), apps + 2) << "on anvil, the live endpoint";
}

}  // namespace
}  // namespace orchestrator::e2e
