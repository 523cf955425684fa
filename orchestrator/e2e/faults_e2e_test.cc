// Faults: the signer down then back, the chain RPC down then back, the simulator answering 5xx,
// 429 or slowly, or dropping connections. Operations wait and finish, or fail with a clear final
// error after transient_retry_timeout with nothing half-done (no AppAuth, no commit).
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/e2e/stack.h"
#include "orchestrator/e2e/stack_test.h"
#include "platform/testing/server_process.h"
#include "platform/testing/wait_for.h"

namespace orchestrator::e2e {
namespace {

using ::testing::HasSubstr;

class FaultsE2eTest : public StackTest<> {
 protected:
  static void SetUpTestSuite() {
    StackOptions o;
    o.retry_timeout = absl::Seconds(3);
    o.rpc_timeout = absl::Milliseconds(400);
    o.cloud_timeout = absl::Seconds(1);
    o.signer_timeout = absl::Milliseconds(500);
    StartStack(o);
  }
  void TearDown() override {
    (void)stack_->ClearFaults();
    (void)stack_->anvil().Resume();
    StackTest::TearDown();
  }

  static v1::Operation Start(const std::string& rid, const std::string& name) {
    grpc::ClientContext ctx;
    v1::Operation op;
    grpc::Status s = stack_->stub().DeployCvm(&ctx, stack_->DeployRequest(rid, name), &op);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return op;
  }

  // Waits until `step` reports a retry (the fault is being felt).
  static bool WaitRetrying(const std::string& id, const std::string& step) {
    return platform::testing::WaitFor([&] {
      absl::StatusOr<v1::Operation> op = stack_->Get(id);
      if (!op.ok()) return false;
      for (const v1::Step& s : op->steps()) {
        if (s.name() == step && absl::StrContains(s.detail(), "retrying")) return true;
      }
      return false;
    });
  }

  static std::string Health() {
    absl::StatusOr<std::string> h =
        platform::testing::CheckHealth(stack_->address(), "onchainkms.orchestrator.v1.Orchestrator");
    return h.ok() ? *h : h.status().ToString();
  }
};

TEST_F(FaultsE2eTest, SignerDownThenBack) {
  const int apps = *stack_->CountAppDeployed();
  ASSERT_TRUE(stack_->StopSigner().ok());
  const v1::Operation op = Start("signer-flap", "e2e-signer-flap");
  ASSERT_TRUE(WaitRetrying(op.id(), "deploy_app_auth"));
  EXPECT_TRUE(platform::testing::WaitFor([] { return Health() == "NOT_SERVING"; })) << Health();
  ASSERT_TRUE(stack_->StartSigner().ok());
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  EXPECT_EQ(*stack_->CountAppDeployed(), apps + 1);
  EXPECT_TRUE(platform::testing::WaitFor([] { return Health() == "SERVING"; })) << Health();
}

TEST_F(FaultsE2eTest, SignerDownTooLongFailsClearlyWithNothingHalfDone) {
  const int apps = *stack_->CountAppDeployed();
  const int commits = stack_->CountSimRequests("POST", "/api/v1/cvms");
  ASSERT_TRUE(stack_->StopSigner().ok());
  const v1::Operation op = Start("signer-gone", "e2e-signer-gone");
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id(), absl::Seconds(20));
  ASSERT_TRUE(stack_->StartSigner().ok());
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_FAILED);
  EXPECT_EQ(done->error().step(), "deploy_app_auth");
  EXPECT_EQ(done->error().code(), 14) << "UNAVAILABLE";
  EXPECT_THAT(done->error().message(), HasSubstr("gave up after"));
  EXPECT_THAT(done->error().message(), HasSubstr("signer"));
  EXPECT_EQ(*stack_->CountAppDeployed(), apps);
  EXPECT_EQ(stack_->CountSimRequests("POST", "/api/v1/cvms"), commits);
}

TEST_F(FaultsE2eTest, ChainRpcDownThenBack) {
  const int apps = *stack_->CountAppDeployed();
  ASSERT_TRUE(stack_->anvil().Pause().ok());
  const v1::Operation op = Start("rpc-flap", "e2e-rpc-flap");
  const bool retrying = WaitRetrying(op.id(), "check_kms");
  ASSERT_TRUE(stack_->anvil().Resume().ok());
  ASSERT_TRUE(retrying);
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  EXPECT_EQ(*stack_->CountAppDeployed(), apps + 1);
}

TEST_F(FaultsE2eTest, ChainRpcDownTooLongFailsClearly) {
  const int apps = *stack_->CountAppDeployed();
  const int commits = stack_->CountSimRequests("POST", "/api/v1/cvms");
  ASSERT_TRUE(stack_->anvil().Pause().ok());
  const v1::Operation op = Start("rpc-gone", "e2e-rpc-gone");
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id(), absl::Seconds(25));
  ASSERT_TRUE(stack_->anvil().Resume().ok());
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_FAILED);
  EXPECT_EQ(done->error().step(), "check_kms");
  EXPECT_THAT(done->error().message(), HasSubstr("gave up after"));
  EXPECT_THAT(done->error().message(), HasSubstr("chain 31337"));
  EXPECT_EQ(*stack_->CountAppDeployed(), apps);
  EXPECT_EQ(stack_->CountSimRequests("POST", "/api/v1/cvms"), commits);
}

TEST_F(FaultsE2eTest, Simulator5xx429LatencyAndDropsAreRidden) {
  const int apps = *stack_->CountAppDeployed();
  // 503 twice on provision (the client retries), a 500 on the commit (the step retries, after
  // checking that the CVM does not exist), a 429 with Retry-After on the env key, a dropped
  // connection on GET /kms/..., and a provision slower than the request timeout once.
  ASSERT_TRUE(
      stack_->AddFault(R"({"kind":"error","status":503,"path_prefix":"/cvms/provision","method":"POST","times":2})")
          .ok());
  ASSERT_TRUE(
      stack_
          ->AddFault(
              R"({"kind":"latency","latency_ms":1500,"path_prefix":"/cvms/provision","method":"POST","nth":3,"times":1})")
          .ok());
  ASSERT_TRUE(
      stack_->AddFault(R"({"kind":"rate_limit","retry_after":1,"path_prefix":"/kms/","method":"GET","times":1})").ok());
  ASSERT_TRUE(stack_->AddFault(R"({"kind":"drop","path_prefix":"/kms/","method":"GET","nth":2,"times":1})").ok());
  const int commits_before = stack_->CountSimRequests("POST", "/api/v1/cvms");
  const v1::Operation op = Start("sim-faults", "e2e-sim-faults");
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  EXPECT_EQ(*stack_->CountAppDeployed(), apps + 1) << "one AppAuth";
  EXPECT_EQ(stack_->CountSimRequests("POST", "/api/v1/cvms"), commits_before + 1) << "one commit";
  absl::StatusOr<boost::json::object> cvm = stack_->SimCvm(done->deploy().cvm_id());
  EXPECT_TRUE(cvm.ok()) << cvm.status();
  // Every fault was felt.
  boost::json::value faults = stack_->SimAdmin("GET", "/faults").json();
  const boost::json::array* rules = faults.is_object() && faults.as_object().contains("faults")
                                        ? &faults.as_object().at("faults").as_array()
                                        : nullptr;
  ASSERT_NE(rules, nullptr) << boost::json::serialize(faults);
  for (const boost::json::value& r : *rules) {
    EXPECT_GE(r.as_object().at("fired").to_number<int64_t>(), 1) << boost::json::serialize(r);
  }
}

TEST_F(FaultsE2eTest, CommitAnswering500IsCheckedAndRetried) {
  // The commit answers 500: the step retries, first asking whether the CVM exists (it does not),
  // then commits once more; exactly one CVM, one AppAuth.
  const int apps = *stack_->CountAppDeployed();
  ASSERT_TRUE(
      stack_->AddFault(R"({"kind":"error","status":500,"path_prefix":"/cvms","method":"POST","nth":2,"times":1})")
          .ok());
  const v1::Operation op = Start("commit-500", "e2e-commit-five-hundred");
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  for (const v1::Step& st : done->steps()) {
    if (st.name() == "commit") EXPECT_EQ(st.attempts(), 2u);
  }
  EXPECT_EQ(*stack_->CountAppDeployed(), apps + 1);
  EXPECT_TRUE(stack_->SimCvm(done->deploy().cvm_id()).ok());
}

TEST_F(FaultsE2eTest, SimulatorDownFailsClearlyBeforeAnyEffect) {
  const int apps = *stack_->CountAppDeployed();
  ASSERT_TRUE(stack_->AddFault(R"({"kind":"error","status":502,"path_prefix":"/cvms/provision"})").ok());
  const v1::Operation op = Start("sim-gone", "e2e-sim-gone");
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id(), absl::Seconds(30));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_FAILED);
  EXPECT_EQ(done->error().step(), "provision");
  EXPECT_THAT(done->error().message(), HasSubstr("gave up after"));
  EXPECT_THAT(done->error().message(), HasSubstr("502"));
  EXPECT_EQ(*stack_->CountAppDeployed(), apps);
}

TEST_F(FaultsE2eTest, GracefulShutdownCheckpointsAndResumes) {
  const int apps = *stack_->CountAppDeployed();
  ASSERT_TRUE(stack_->StopSigner().ok());
  const v1::Operation op = Start("shutdown-resume", "e2e-shutdown-resume");
  ASSERT_TRUE(WaitRetrying(op.id(), "deploy_app_auth"));
  // A watcher is told to come back, the process exits 0, the step stays RUNNING.
  grpc::ClientContext wctx;
  v1::WatchOperationRequest wreq;
  wreq.set_operation_id(op.id());
  auto reader = stack_->stub().WatchOperation(&wctx, wreq);
  v1::OperationEvent ev;
  ASSERT_TRUE(reader->Read(&ev));
  absl::StatusOr<int> code = stack_->StopOrchestrator(SIGTERM);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  while (reader->Read(&ev)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(stack_->StartSigner().ok());
  ASSERT_TRUE(stack_->StartOrchestrator().ok());
  absl::StatusOr<v1::Operation> done =
      stack_->WaitFor(op.id(), absl::Seconds(30), v1::OPERATION_STATE_WAITING_FOR_INPUT);
  ASSERT_TRUE(done.ok()) << done.status();
  // The env values were in memory only: the operation asks for them.
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_WAITING_FOR_INPUT) << done->DebugString();
  EXPECT_EQ(done->input_request().env_keys_size(), 2);
  EXPECT_EQ(*stack_->CountAppDeployed(), apps + 1) << "the AppAuth was deployed meanwhile";
  // Wrong values are refused (they must be the original request's); then the right ones.
  v1::SupplyEnvVarsRequest supply;
  supply.set_request_id("supply-1");
  supply.set_operation_id(op.id());
  const v1::DeployCvmRequest original = stack_->DeployRequest("shutdown-resume", "e2e-shutdown-resume");
  *supply.mutable_env_vars() = original.env_vars();
  supply.mutable_env_vars(0)->set_value("wrong");
  {
    grpc::ClientContext ctx;
    v1::Operation out;
    grpc::Status s = stack_->stub().SupplyEnvVars(&ctx, supply, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("wrong")));
  }
  *supply.mutable_env_vars() = original.env_vars();
  supply.set_request_id("supply-2");
  {
    grpc::ClientContext ctx;
    v1::Operation out;
    grpc::Status s = stack_->stub().SupplyEnvVars(&ctx, supply, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  done = stack_->WaitFor(op.id());
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  EXPECT_EQ(*stack_->CountAppDeployed(), apps + 1);
  // Supplying again with the same request id returns the operation; a new one is refused.
  {
    grpc::ClientContext ctx;
    v1::Operation out;
    grpc::Status s = stack_->stub().SupplyEnvVars(&ctx, supply, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(out.id(), op.id());
  }
  {
    supply.set_request_id("supply-3");
    grpc::ClientContext ctx;
    v1::Operation out;
    EXPECT_EQ(stack_->stub().SupplyEnvVars(&ctx, supply, &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
}

}  // namespace
}  // namespace orchestrator::e2e
