// kill -9 at every step of a flow, then restart on the same journal: the operation completes,
// with exactly one AppAuth per deploy, one commit, and one compose-hash transaction (and one
// accepted proof) per update, on chain and in the simulator's records; a deploy's CVM and app
// are owned by its caller however the crash fell (recorded again on resume, a no-op).
//
// The crash points are armed by ORCHESTRATOR_CRASH_AT in the test build of the orchestrator
// (//orchestrator:orchestrator_crash_points; orchestrator/common/crash_points.h), which the
// stack runs here instead of the shipped binary. One test target per flow keeps each run short:
// CRASH_FLOW is "deploy", "env" or "compose".
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/e2e/oracle_verdict.h"
#include "orchestrator/e2e/stack.h"
#include "orchestrator/e2e/stack_test.h"

#ifndef CRASH_FLOW
#define CRASH_FLOW "deploy"
#endif

namespace orchestrator::e2e {
namespace {

namespace json = boost::json;

std::vector<std::string> Points() {
  const std::string flow = CRASH_FLOW;
  if (flow == "deploy") {
    return {"provision:before",       "provision:after",
            "check_kms:before",       "check_kms:after",
            "deploy_app_auth:before", "deploy_app_auth:intent",
            "deploy_app_auth:signed", "deploy_app_auth:after",
            "get_env_pubkey:before",  "get_env_pubkey:after",
            "encrypt_env:before",     "encrypt_env:after",
            "commit:before",          "commit:after"};
  }
  if (flow == "env") {
    return {"get_cvm:before",
            "get_cvm:after",
            "get_env_pubkey:before",
            "get_env_pubkey:after",
            "encrypt_env:before",
            "encrypt_env:after",
            "update_env_vars:before",
            "update_env_vars:after",
            "register_compose_hash:before",
            "register_compose_hash:intent",
            "register_compose_hash:signed",
            "register_compose_hash:after",
            "confirm_update:before",
            "confirm_update:after"};
  }
  return {"get_cvm:before",
          "update_docker_compose:before",
          "update_docker_compose:after",
          "register_compose_hash:before",
          "register_compose_hash:intent",
          "register_compose_hash:signed",
          "register_compose_hash:after",
          "confirm_update:before",
          "confirm_update:after",
          "get_compose_file:after",
          "provision_update:before",
          "provision_update:after",
          "commit_update:before",
          "commit_update:after"};
}

std::string Slug(const std::string& point) {
  std::string s = absl::StrReplaceAll(point, {{":", "-"}, {"_", "-"}});
  return s;
}

template <typename Request>
std::map<std::string, std::string> EnvOf(const Request& r) {
  std::map<std::string, std::string> env;
  for (const v1::EnvVar& e : r.env_vars()) env[e.key()] = e.value();
  return env;
}

// The env of Target(): compose updates leave it as deployed.
std::map<std::string, std::string> TargetEnv() {
  return {{"API_TOKEN", "s3cr3t-value-for-crash-target"}, {"MODE", "production"}};
}

class CrashE2eTest : public StackTest<::testing::TestWithParam<std::string>> {
 protected:
  // Each test starts (and kills) the orchestrator itself.
  static void SetUpTestSuite() { StartStack({.crash_points = true}, /*start_orchestrator=*/false); }
  void TearDown() override {
    StackTest::TearDown();
    (void)stack_->KillOrchestrator();
  }

  // The deployed CVM the update matrices work on (deployed once, without a crash).
  static const v1::DeployResult& Target() {
    if (!target_.has_value()) {
      EXPECT_TRUE(stack_->StartOrchestrator().ok());
      grpc::ClientContext ctx;
      v1::Operation op;
      grpc::Status s = stack_->stub().DeployCvm(&ctx, stack_->DeployRequest("crash-target", "e2e-crash-target"), &op);
      EXPECT_TRUE(s.ok()) << s.error_message();
      absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id());
      EXPECT_TRUE(done.ok() && done->state() == v1::OPERATION_STATE_SUCCEEDED);
      target_ = done.ok() ? done->deploy() : v1::DeployResult();
      (void)stack_->KillOrchestrator();
    }
    return *target_;
  }

  // Sends the request (again): the same request_id and body return the same operation and, when
  // the operation lost its env values in the crash, supply them.
  template <typename Request>
  static grpc::Status Send(const Request& r, v1::Operation* op);

  // Starts with the crash point armed, sends, expects the kill, restarts, sends again until the
  // operation finishes. Returns the finished operation.
  template <typename Request>
  v1::Operation CrashAndResume(const Request& r) {
    const std::string point = GetParam();
    log_start_ = stack_->orchestrator_log().size();
    EXPECT_TRUE(stack_->StartOrchestrator({"ORCHESTRATOR_CRASH_AT=" + point}).ok());
    v1::Operation op;
    (void)Send(r, &op);  // the answer may be lost if the crash comes first
    absl::StatusOr<int> code = stack_->WaitOrchestratorExit(absl::Seconds(30));
    EXPECT_TRUE(code.ok()) << "the crash point " << point << " was never reached";
    if (code.ok()) EXPECT_EQ(*code, 128 + SIGKILL);
    EXPECT_THAT(stack_->orchestrator_log(), ::testing::HasSubstr(point));
    EXPECT_TRUE(stack_->StartOrchestrator().ok());
    grpc::Status s = Send(r, &op);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (int round = 0; round < 3; ++round) {
      absl::StatusOr<v1::Operation> done =
          stack_->WaitFor(op.id(), absl::Seconds(40), v1::OPERATION_STATE_WAITING_FOR_INPUT);
      EXPECT_TRUE(done.ok()) << done.status();
      if (!done.ok()) return op;
      if (done->state() != v1::OPERATION_STATE_WAITING_FOR_INPUT) return *done;
      // Lost in the crash before encryption: the retry of the original request supplies them.
      EXPECT_FALSE(done->input_request().env_keys().empty());
      s = Send(r, &op);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return op;
  }

  static int AcceptedProofs(const std::string& path) {
    int n = 0;
    for (const json::object& r : stack_->SimRequests("PATCH", path)) {
      if (r.at("path").as_string() != path) continue;
      const int64_t status = r.at("status").is_int64() ? r.at("status").as_int64() : 0;
      std::string body = r.contains("body") ? json::serialize(r.at("body")) : "";
      std::string headers = r.contains("headers") ? json::serialize(r.at("headers")) : "";
      if (status == 200 &&
          (absl::StrContains(body, "transaction_hash") || absl::StrContains(headers, "x-transaction-hash"))) {
        ++n;
      }
    }
    return n;
  }

  // What this case's orchestrator runs logged.
  std::string CaseLog() const { return stack_->orchestrator_log().substr(log_start_); }

  // The resume took the path the crash point is about (not merely "it worked").
  void ExpectResumePath(const v1::Operation& done) {
    const std::string point = GetParam();
    const std::string step = point.substr(0, point.find(':'));
    std::string detail;
    for (const v1::Step& st : done.steps()) {
      if (st.name() == step) detail = st.detail();
    }
    if (absl::EndsWith(point, ":intent")) {
      EXPECT_THAT(CaseLog(), ::testing::HasSubstr("re-obtained a signature interrupted by a restart"));
    }
    if (absl::EndsWith(point, ":signed") || absl::EndsWith(point, ":after")) {
      if (step == "deploy_app_auth" || step == "register_compose_hash") {
        EXPECT_THAT(CaseLog(), ::testing::HasSubstr("resuming a journaled transaction"));
      }
    }
    if (point == "commit:after") EXPECT_THAT(detail, ::testing::HasSubstr("committed before a restart"));
    if (point == "confirm_update:after" || point == "commit_update:after") {
      EXPECT_THAT(detail, ::testing::HasSubstr("before a restart"));
    }
  }

  // The resumed deploy recorded its CVM and its app for its caller, and recording again after
  // the crash (the step re-ran) changed nothing: the caller may register a hash on both by name
  // (the app's initial hash, already allowed, so nothing is sent).
  void ExpectOwnedByTheCaller(const v1::DeployResult& d) {
    for (bool by_app : {false, true}) {
      v1::AddComposeHashRequest a;
      a.set_request_id(absl::StrCat("owned-", by_app, "-", Slug(GetParam())));
      if (by_app) {
        a.mutable_app()->set_chain_id(d.chain_id());
        a.mutable_app()->set_app_contract_address(d.app_id());
      } else {
        a.set_cvm_id(d.cvm_id());
      }
      a.set_compose_hash(d.compose_hash());
      grpc::ClientContext ctx;
      v1::Operation op;
      grpc::Status s = stack_->stub().AddComposeHash(&ctx, a, &op);
      ASSERT_TRUE(s.ok()) << (by_app ? "app: " : "cvm: ") << s.error_message();
      absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id());
      ASSERT_TRUE(done.ok()) << done.status();
      EXPECT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
      EXPECT_TRUE(done->add_compose_hash().already_registered());
    }
  }

  size_t log_start_ = 0;
  static std::optional<v1::DeployResult> target_;
};

std::optional<v1::DeployResult> CrashE2eTest::target_;

template <>
grpc::Status CrashE2eTest::Send(const v1::DeployCvmRequest& r, v1::Operation* op) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stack_->stub().DeployCvm(&ctx, r, op);
}
template <>
grpc::Status CrashE2eTest::Send(const v1::UpdateEnvVarsRequest& r, v1::Operation* op) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stack_->stub().UpdateEnvVars(&ctx, r, op);
}
template <>
grpc::Status CrashE2eTest::Send(const v1::UpdateDockerComposeRequest& r, v1::Operation* op) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stack_->stub().UpdateDockerCompose(&ctx, r, op);
}
template <>
grpc::Status CrashE2eTest::Send(const v1::UpdateComposeFileRequest& r, v1::Operation* op) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stack_->stub().UpdateComposeFile(&ctx, r, op);
}

TEST_P(CrashE2eTest, ResumesWithoutRepeatingAnEffect) {
  const std::string point = GetParam();
  const std::string flow = CRASH_FLOW;
  if (flow == "deploy") {
    const int apps_before = *stack_->CountAppDeployed();
    const int commits_before = stack_->CountSimRequests("POST", "/api/v1/cvms");
    v1::DeployCvmRequest r = stack_->DeployRequest("crash-" + Slug(point), "e2e-" + Slug(point));
    const v1::Operation done = CrashAndResume(r);
    ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
    ExpectResumePath(done);
    EXPECT_EQ(*stack_->CountAppDeployed(), apps_before + 1) << "exactly one AppAuth";
    EXPECT_EQ(stack_->CountSimRequests("POST", "/api/v1/cvms"), commits_before + 1) << "exactly one commit";
    EXPECT_EQ(*stack_->CountComposeHashAdded(done.deploy().app_id()), 1);
    absl::StatusOr<json::object> cvm = stack_->SimCvm(done.deploy().cvm_id());
    ASSERT_TRUE(cvm.ok()) << cvm.status();
    EXPECT_EQ(cvm->at("env").as_object().at("values").as_object().at("API_TOKEN").as_string(), r.env_vars(0).value());
    ExpectIndependentVerdict(*stack_, done.deploy().cvm_id(), done.deploy().compose_hash(), EnvOf(r),
                             done.deploy().app_id());
    // The interrupted step ran again after the restart. A step with an effect (and the first,
    // whose RUNNING carries the operation's start) had its interrupted attempt journaled; a
    // later step without one had not (its start rides with its next write: op_context.h), so
    // it ran again as a first attempt. (encrypt_env's first attempt after the restart found the
    // env values gone and journaled its wait for them.)
    const std::string step = point.substr(0, point.find(':'));
    const bool effect_free = step == "check_kms" || step == "get_env_pubkey";
    for (const v1::Step& st : done.steps()) {
      if (st.name() != step || point.find(":before") != std::string::npos) continue;
      if (effect_free) {
        EXPECT_EQ(st.attempts(), 1u) << step;
      } else {
        EXPECT_GE(st.attempts(), 2u) << step;
      }
    }
    ExpectOwnedByTheCaller(done.deploy());
    return;
  }
  const v1::DeployResult& t = Target();
  ASSERT_FALSE(t.cvm_id().empty());
  const int hashes_before = *stack_->CountComposeHashAdded(t.app_id());
  if (flow == "env") {
    const std::string path = "/api/v1/cvms/" + t.cvm_id() + "/envs";
    const int proofs_before = AcceptedProofs(path);
    v1::UpdateEnvVarsRequest r;
    r.set_request_id("crash-" + Slug(point));
    r.set_cvm_id(t.cvm_id());
    for (const std::string& k : {std::string("API_TOKEN"), "KEY_" + absl::AsciiStrToUpper(Slug(point))}) {
      v1::EnvVar* e = r.add_env_vars();
      e->set_key(absl::StrReplaceAll(k, {{"-", "_"}}));
      e->set_value("v-" + point);
    }
    const v1::Operation done = CrashAndResume(r);
    ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
    ExpectResumePath(done);
    EXPECT_TRUE(done.update().two_phase());
    EXPECT_EQ(*stack_->CountComposeHashAdded(t.app_id()), hashes_before + 1) << "exactly one addComposeHash";
    EXPECT_EQ(*stack_->CountComposeHashAdded(t.app_id(), done.update().compose_hash()), 1);
    EXPECT_EQ(AcceptedProofs(path), proofs_before + 1) << "exactly one accepted confirmation";
    absl::StatusOr<json::object> cvm = stack_->SimCvm(t.cvm_id());
    ASSERT_TRUE(cvm.ok());
    EXPECT_EQ(cvm->at("env").as_object().at("values").as_object().at("API_TOKEN").as_string(), "v-" + point);
    ExpectIndependentVerdict(*stack_, t.cvm_id(), done.update().compose_hash(), EnvOf(r), t.app_id());
    return;
  }
  // compose: the docker-compose endpoint (two-phase) or the compose-file API.
  if (absl::StartsWith(point, "get_compose_file") || absl::StartsWith(point, "provision_update") ||
      absl::StartsWith(point, "commit_update")) {
    v1::UpdateComposeFileRequest r;
    r.set_request_id("crash-" + Slug(point));
    r.set_cvm_id(t.cvm_id());
    r.mutable_compose()->set_pre_launch_script("echo " + point);
    const v1::Operation done = CrashAndResume(r);
    ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
    ExpectResumePath(done);
    EXPECT_EQ(*stack_->CountComposeHashAdded(t.app_id()), hashes_before + 1);
    EXPECT_EQ(*stack_->CountComposeHashAdded(t.app_id(), done.update().compose_hash()), 1);
    int commits = 0;
    for (const json::object& q : stack_->SimRequests("PATCH", "/api/v1/cvms/" + t.cvm_id() + "/compose_file")) {
      if (q.at("status").is_int64() && q.at("status").as_int64() == 200 &&
          absl::StrContains(json::serialize(q.at("body")), done.update().compose_hash().substr(2))) {
        ++commits;
      }
    }
    EXPECT_EQ(commits, 1) << "exactly one commit of this compose hash";
    ExpectIndependentVerdict(*stack_, t.cvm_id(), done.update().compose_hash(), TargetEnv(), t.app_id());
    return;
  }
  const std::string path = "/api/v1/cvms/" + t.cvm_id() + "/docker-compose";
  const int proofs_before = AcceptedProofs(path);
  v1::UpdateDockerComposeRequest r;
  r.set_request_id("crash-" + Slug(point));
  r.set_cvm_id(t.cvm_id());
  r.set_docker_compose_file("services:\n  app:\n    image: nginx:latest\n    command: [\"echo\", \"" + point + "\"]\n");
  const v1::Operation done = CrashAndResume(r);
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  ExpectResumePath(done);
  EXPECT_EQ(*stack_->CountComposeHashAdded(t.app_id()), hashes_before + 1);
  EXPECT_EQ(*stack_->CountComposeHashAdded(t.app_id(), done.update().compose_hash()), 1);
  EXPECT_EQ(AcceptedProofs(path), proofs_before + 1);
  ExpectIndependentVerdict(*stack_, t.cvm_id(), done.update().compose_hash(), TargetEnv(), t.app_id());
}

INSTANTIATE_TEST_SUITE_P(Points, CrashE2eTest, ::testing::ValuesIn(Points()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           return absl::StrReplaceAll(i.param, {{":", "_"}});
                         });

}  // namespace
}  // namespace orchestrator::e2e
