// ReadinessWait (step wait_running) and the CVM reads (GetCvm, ListCvms, ListNodes) end to end:
// the real orchestrator process against anvil, the real signer and the Phala Cloud simulator,
// whose boot knob (POST /_sim/boot: hold, end_status) holds a CVM in "starting" / "restarting"
// until the test releases it. No sleeps: the test waits for what the operation reports.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "orchestrator/e2e/stack.h"
#include "orchestrator/e2e/stack_test.h"
#include "platform/testing/wait_for.h"

namespace orchestrator::e2e {
namespace {

namespace json = boost::json;
using google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;

class ReadinessE2eTest : public StackTest<> {
 protected:
  static void SetUpTestSuite() { StartStack(); }
  void TearDown() override {
    SetBoot(R"({"hold":false,"end_status":"running","boot_polls":0})");
    StackTest<>::TearDown();
  }

  static void SetBoot(const std::string& rules) {
    cloudsim::testing::Reply r = stack_->SimAdmin("POST", "/boot", rules);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  static const v1::Step* StepOf(const v1::Operation& op, const std::string& name) {
    for (const v1::Step& s : op.steps()) {
      if (s.name() == name) return &s;
    }
    return nullptr;
  }

  // Waits until the operation's wait_running step has reported at least `polls` polls.
  static v1::Operation WaitForPolls(const std::string& id, int polls) {
    v1::Operation op;
    const bool seen = platform::testing::WaitFor(
        [&] {
          absl::StatusOr<v1::Operation> o = stack_->Get(id);
          if (!o.ok()) return false;
          op = *o;
          const v1::Step* s = StepOf(op, "wait_running");
          for (int n = polls; s != nullptr && n < polls + 50; ++n) {
            if (absl::StartsWith(s->detail(), absl::StrCat("poll ", n, ":"))) return true;
          }
          return false;
        },
        absl::Seconds(60), absl::Milliseconds(50));
    EXPECT_TRUE(seen) << op.DebugString();
    return op;
  }

  // The simulator's stored CVM.
  static json::object SimRecord(const std::string& cvm_id) {
    absl::StatusOr<json::object> c = stack_->SimCvm(cvm_id);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? c->at("cvm").as_object() : json::object();
  }

  static v1::ReadinessWait Wait(int64_t seconds) {
    v1::ReadinessWait w;
    w.set_enabled(true);
    w.mutable_timeout()->set_seconds(seconds);
    return w;
  }
};

TEST_F(ReadinessE2eTest, DeployEndsOnlyWhenTheCvmRunsItsComposeHash) {
  SetBoot(R"({"hold":true})");
  v1::DeployCvmRequest req = stack_->DeployRequest("ready-deploy-1", "e2e-ready-deploy");
  *req.mutable_wait_until_running() = Wait(120);
  absl::StatusOr<v1::Operation> op = stack_->Deploy(req);
  ASSERT_TRUE(op.ok()) << op.status();
  ASSERT_EQ(op->steps_size(), 7);
  EXPECT_EQ(op->steps(6).name(), "wait_running");

  // Held in "starting": the operation keeps polling and stays RUNNING.
  v1::Operation held = WaitForPolls(op->id(), 3);
  EXPECT_EQ(held.state(), v1::OPERATION_STATE_RUNNING);
  EXPECT_EQ(StepOf(held, "commit")->state(), v1::STEP_STATE_SUCCEEDED);
  EXPECT_EQ(StepOf(held, "wait_running")->state(), v1::STEP_STATE_RUNNING);
  EXPECT_THAT(StepOf(held, "wait_running")->detail(), HasSubstr("status \"starting\""));
  EXPECT_EQ(held.deploy().status(), "starting");
  EXPECT_FALSE(held.deploy().has_running_time());

  const absl::Time released = absl::Now();
  SetBoot(R"({"hold":false})");
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op->id(), absl::Seconds(60));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  const v1::Step* wait = StepOf(*done, "wait_running");
  EXPECT_EQ(wait->state(), v1::STEP_STATE_SUCCEEDED);
  EXPECT_THAT(wait->detail(), HasSubstr(absl::StrCat("running compose hash ", done->deploy().compose_hash())));
  EXPECT_EQ(wait->attempts(), 1u);
  EXPECT_EQ(done->deploy().status(), "running");
  ASSERT_TRUE(done->deploy().has_running_time());
  EXPECT_GE(TimeUtil::TimestampToMicroseconds(done->deploy().running_time()), absl::ToUnixMicros(released));
  // What the simulator runs is what the operation deployed.
  json::object sim = SimRecord(done->deploy().cvm_id());
  EXPECT_EQ("0x" + std::string(sim.at("compose_hash").as_string()), done->deploy().compose_hash());
  EXPECT_EQ(sim.at("status").as_string(), "running");
}

TEST_F(ReadinessE2eTest, TimeoutFailsWithDeadlineExceededAndKeepsTheResult) {
  SetBoot(R"({"hold":true})");
  v1::DeployCvmRequest req = stack_->DeployRequest("ready-timeout-1", "e2e-ready-timeout");
  *req.mutable_wait_until_running() = Wait(3);
  absl::StatusOr<v1::Operation> op = stack_->Deploy(req);
  ASSERT_TRUE(op.ok()) << op.status();
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op->id(), absl::Seconds(60));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_FAILED) << done->DebugString();
  EXPECT_EQ(done->error().code(), 4);  // DEADLINE_EXCEEDED
  EXPECT_EQ(done->error().step(), "wait_running");
  EXPECT_THAT(done->error().message(), HasSubstr("within 3s"));
  EXPECT_THAT(done->error().message(), HasSubstr("last status \"starting\""));
  EXPECT_EQ(StepOf(*done, "wait_running")->state(), v1::STEP_STATE_FAILED);
  EXPECT_EQ(StepOf(*done, "wait_running")->attempts(), 1u);  // not retried
  // Everything before the wait is done and reported.
  EXPECT_EQ(StepOf(*done, "commit")->state(), v1::STEP_STATE_SUCCEEDED);
  EXPECT_FALSE(done->deploy().cvm_id().empty());
  EXPECT_FALSE(done->deploy().app_id().empty());
  EXPECT_FALSE(done->deploy().compose_hash().empty());
  EXPECT_EQ(done->deploy().status(), "starting");
  EXPECT_FALSE(done->deploy().has_running_time());
}

TEST_F(ReadinessE2eTest, AnErrorStatusFailsTheWaitAtOnce) {
  SetBoot(R"({"end_status":"error","boot_polls":1})");
  v1::DeployCvmRequest req = stack_->DeployRequest("ready-error-1", "e2e-ready-error");
  *req.mutable_wait_until_running() = Wait(120);
  absl::StatusOr<v1::Operation> op = stack_->Deploy(req);
  ASSERT_TRUE(op.ok()) << op.status();
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op->id(), absl::Seconds(60));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_FAILED) << done->DebugString();
  EXPECT_EQ(done->error().code(), 9);  // FAILED_PRECONDITION
  EXPECT_EQ(done->error().step(), "wait_running");
  EXPECT_THAT(done->error().message(), HasSubstr("reports status \"error\" (poll 2)"));
  EXPECT_EQ(done->deploy().status(), "error");
}

TEST_F(ReadinessE2eTest, UpdateEndsWhenTheCvmRunsTheNewHash) {
  absl::StatusOr<v1::Operation> deployed = stack_->Deploy(stack_->DeployRequest("ready-upd-0", "e2e-ready-update"));
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  absl::StatusOr<v1::Operation> first = stack_->WaitFor(deployed->id());
  ASSERT_TRUE(first.ok() && first->state() == v1::OPERATION_STATE_SUCCEEDED) << first.status();
  const std::string cvm = first->deploy().cvm_id();
  const std::string old_hash = first->deploy().compose_hash();

  SetBoot(R"({"hold":true})");
  v1::UpdateDockerComposeRequest upd;
  upd.set_request_id("ready-upd-1");
  upd.set_cvm_id(cvm);
  upd.set_docker_compose_file("services:\n  app:\n    image: nginx:1.27-alpine\n");
  *upd.mutable_wait_until_running() = Wait(120);
  v1::Operation op;
  grpc::ClientContext ctx;
  grpc::Status s = stack_->stub().UpdateDockerCompose(&ctx, upd, &op);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(op.steps(op.steps_size() - 1).name(), "wait_running");

  // Restarting with the old hash: not done yet, although the update was accepted.
  v1::Operation held = WaitForPolls(op.id(), 2);
  EXPECT_EQ(held.state(), v1::OPERATION_STATE_RUNNING);
  EXPECT_EQ(StepOf(held, "confirm_update")->state(), v1::STEP_STATE_SUCCEEDED);
  EXPECT_THAT(StepOf(held, "wait_running")->detail(),
              HasSubstr(absl::StrCat("status \"restarting\", compose hash ", old_hash)));
  const std::string new_hash = held.update().compose_hash();
  ASSERT_NE(new_hash, old_hash);

  SetBoot(R"({"hold":false})");
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id(), absl::Seconds(60));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  EXPECT_EQ(done->update().status(), "running");
  EXPECT_TRUE(done->update().has_running_time());
  EXPECT_THAT(StepOf(*done, "wait_running")->detail(), HasSubstr(absl::StrCat("running compose hash ", new_hash)));
  EXPECT_EQ("0x" + std::string(SimRecord(cvm).at("compose_hash").as_string()), new_hash);

  // GetCvm through the orchestrator shows the same.
  v1::GetCvmRequest get;
  get.set_cvm_id(cvm);
  v1::Cvm got;
  grpc::ClientContext gctx;
  ASSERT_TRUE(stack_->stub().GetCvm(&gctx, get, &got).ok());
  EXPECT_EQ(got.status(), "running");
  EXPECT_EQ(got.compose_hash(), new_hash);
}

TEST_F(ReadinessE2eTest, GetListCvmsAndNodesMatchTheSimulator) {
  absl::StatusOr<v1::Operation> deployed = stack_->Deploy(stack_->DeployRequest("reads-0", "e2e-reads-cvm"));
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(deployed->id());
  ASSERT_TRUE(done.ok() && done->state() == v1::OPERATION_STATE_SUCCEEDED) << done.status();

  v1::GetCvmRequest get;
  get.set_cvm_id(done->deploy().cvm_id());
  v1::Cvm cvm;
  grpc::ClientContext gctx;
  grpc::Status gs = stack_->stub().GetCvm(&gctx, get, &cvm);
  ASSERT_TRUE(gs.ok()) << gs.error_message();
  json::object sim = SimRecord(cvm.id());
  EXPECT_EQ(cvm.id(), done->deploy().cvm_id());
  EXPECT_EQ(cvm.name(), "e2e-reads-cvm");
  EXPECT_EQ(cvm.status(), sim.at("status").as_string());
  EXPECT_EQ(cvm.compose_hash(), "0x" + std::string(sim.at("compose_hash").as_string()));
  EXPECT_EQ(cvm.app_id(), done->deploy().app_id());
  EXPECT_EQ(cvm.kms_type(), v1::KMS_TYPE_BASE);
  EXPECT_EQ(cvm.chain_id(), 31337u);
  EXPECT_EQ(cvm.app_contract_address(), done->deploy().app_auth_contract_address());
  EXPECT_EQ(cvm.node_id(), 1u);
  EXPECT_EQ(cvm.device_id(), "0x" + std::string(sim.at("device_id").as_string()));

  // Unknown: NOT_FOUND; by app id: the same CVM.
  get.set_cvm_id("no-such-cvm");
  grpc::ClientContext nctx;
  v1::Cvm none;
  EXPECT_EQ(stack_->stub().GetCvm(&nctx, get, &none).error_code(), grpc::StatusCode::NOT_FOUND);
  get.set_cvm_id(done->deploy().app_id());
  grpc::ClientContext actx;
  ASSERT_TRUE(stack_->stub().GetCvm(&actx, get, &none).ok());
  EXPECT_EQ(none.id(), cvm.id());

  // Every CVM of the simulator, one per page.
  std::set<std::string> want;
  const json::value sim_cvms = stack_->SimAdmin("GET", "/cvms").json();
  for (const json::value& c : sim_cvms.at("cvms").as_array()) {
    want.insert(std::string(c.at("vm_uuid").as_string()));
  }
  std::set<std::string> listed;
  v1::ListCvmsRequest list;
  list.set_page_size(1);
  for (int pages = 0; pages < 100; ++pages) {
    v1::ListCvmsResponse page;
    grpc::ClientContext lctx;
    grpc::Status ls = stack_->stub().ListCvms(&lctx, list, &page);
    ASSERT_TRUE(ls.ok()) << ls.error_message();
    ASSERT_LE(page.cvms_size(), 1);
    for (const v1::Cvm& c : page.cvms()) {
      std::string uuid = c.id();
      uuid = absl::StrCat(uuid.substr(0, 8), "-", uuid.substr(8, 4), "-", uuid.substr(12, 4), "-", uuid.substr(16, 4),
                          "-", uuid.substr(20));
      EXPECT_TRUE(listed.insert(uuid).second) << "listed twice: " << c.id();
    }
    if (page.next_page_token().empty()) break;
    list.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(listed, want);
  list.set_page_token("not-a-token");
  v1::ListCvmsResponse bad;
  grpc::ClientContext bctx;
  EXPECT_EQ(stack_->stub().ListCvms(&bctx, list, &bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Nodes with their device ids, as the simulator's config and provision report them.
  v1::ListNodesResponse nodes;
  grpc::ClientContext nctx2;
  ASSERT_TRUE(stack_->stub().ListNodes(&nctx2, v1::ListNodesRequest(), &nodes).ok());
  ASSERT_EQ(nodes.nodes_size(), 2);
  EXPECT_EQ(nodes.nodes(0).id(), 1u);
  EXPECT_EQ(nodes.nodes(0).device_id(), cvm.device_id());
  EXPECT_EQ(nodes.nodes(1).id(), 2u);
  EXPECT_EQ(nodes.nodes(1).name(), "sim-node-2");
  EXPECT_EQ(nodes.nodes(1).device_id().size(), 66u);
  EXPECT_NE(nodes.nodes(1).device_id(), nodes.nodes(0).device_id());
}

TEST_F(ReadinessE2eTest, ATimeoutAboveADayIsRefused) {
  v1::DeployCvmRequest req = stack_->DeployRequest("ready-bad-1", "e2e-ready-bad");
  *req.mutable_wait_until_running() = Wait(24 * 3600 + 1);
  absl::StatusOr<v1::Operation> op = stack_->Deploy(req);
  EXPECT_EQ(op.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(op.status().message()), HasSubstr("wait_until_running.timeout: at most 24h"));
}

}  // namespace
}  // namespace orchestrator::e2e
