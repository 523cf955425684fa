// Every flow end to end through the real orchestrator process over gRPC, against anvil + the
// Phala Cloud simulator + the real signer.
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/e2e/oracle_verdict.h"
#include "orchestrator/e2e/stack.h"
#include "orchestrator/e2e/stack_test.h"
#include "orchestrator/signer_client/signer_client.h"
#include "platform/http/client.h"
#include "platform/http/testing/prometheus_text.h"
#include "platform/testing/server_process.h"
#include "platform/testing/wait_for.h"
#include "test/support/node_tools.h"

namespace orchestrator::e2e {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

// keccak256("AppDeployedViaFactory(address,address)"), emitted by the KMS factory.
constexpr char kAppDeployedViaFactoryTopic[] = "0xfd86d7f6962eba3b7a3bf9129c06c0b2f885e1c61ef2c9f0dbb856be0deefdee";

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }
std::string Lower(const json::string& s) { return Lower(absl::string_view(s.data(), s.size())); }

class FlowsE2eTest : public StackTest<> {
 protected:
  static void SetUpTestSuite() {
    metrics_port_ = platform::testing::FreeTcpPort();
    signer_metrics_port_ = platform::testing::FreeTcpPort();
    StartStack(
        {.extra_config = absl::StrCat("metrics_port: ", metrics_port_), .signer_metrics_port = signer_metrics_port_});
  }

  // GET /metrics of the orchestrator (or of the signer), parsed as a scraper would.
  static platform::http::testing::Exposition Metrics(bool signer = false) {
    absl::StatusOr<platform::http::Url> url =
        platform::http::ParseUrl(absl::StrCat("http://127.0.0.1:", signer ? signer_metrics_port_ : metrics_port_));
    absl::StatusOr<std::unique_ptr<platform::http::Client>> client = platform::http::Client::Create(*url, {});
    EXPECT_TRUE(client.ok()) << client.status();
    absl::StatusOr<platform::http::Response> r = (*client)->Send({.target = "/metrics"});
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, 200);
    absl::StatusOr<platform::http::testing::Exposition> e = platform::http::testing::ParsePrometheusText(r->body);
    EXPECT_TRUE(e.ok()) << e.status() << "\n" << r->body;
    return e.ok() ? *e : platform::http::testing::Exposition{};
  }
  static inline int metrics_port_ = 0;
  static inline int signer_metrics_port_ = 0;

  static void ExpectAppDeployedBy(const std::string& tx, uint64_t block, const std::string& app) {
    absl::StatusOr<json::value> receipt = stack_->anvil().Call("eth_getTransactionReceipt", json::array{tx});
    ASSERT_TRUE(receipt.ok()) << receipt.status();
    ASSERT_TRUE(receipt->is_object()) << "no receipt for " << tx;
    const json::object& r = receipt->as_object();
    EXPECT_EQ(r.at("status").as_string(), "0x1");
    EXPECT_EQ(anvil::ParseQuantity(std::string(r.at("blockNumber").as_string())).value_or(0), block);
    EXPECT_EQ(Lower(r.at("to").as_string()), stack_->kms_address());
    int deployed = 0;
    for (const json::value& l : r.at("logs").as_array()) {
      const json::object& log = l.as_object();
      const json::array& topics = log.at("topics").as_array();
      if (Lower(log.at("address").as_string()) == stack_->kms_address() && topics.size() >= 2 &&
          topics[0].as_string() == kAppDeployedViaFactoryTopic &&
          Lower(topics[1].as_string()) == "0x" + anvil::AbiWord(Lower(app))) {
        ++deployed;
      }
    }
    EXPECT_EQ(deployed, 1) << json::serialize(r);
  }

  static grpc::Status Deploy(const v1::DeployCvmRequest& r, v1::Operation* op) {
    grpc::ClientContext ctx;
    return stack_->stub().DeployCvm(&ctx, r, op);
  }

  // Deploys and waits; returns the finished operation.
  static v1::Operation DeployAndWait(const std::string& rid, const std::string& name) {
    v1::Operation op;
    grpc::Status s = Deploy(stack_->DeployRequest(rid, name), &op);
    EXPECT_TRUE(s.ok()) << s.error_message();
    absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id());
    EXPECT_TRUE(done.ok()) << done.status();
    return done.ok() ? *done : op;
  }
};

TEST_F(FlowsE2eTest, OnChainDeployEndToEndWithWatchAndIdempotency) {
  const absl::StatusOr<int> before = stack_->CountAppDeployed();
  ASSERT_TRUE(before.ok());
  const int commits_before = stack_->CountSimRequests("POST", "/api/v1/cvms");
  // The provision answers after 1 s, so the watcher below is attached before any transaction is
  // sent (the fault is cleared once the snapshot arrived).
  ASSERT_TRUE(stack_->AddFault(R"({"kind":"latency","path_prefix":"/cvms/provision","latency_ms":1000})").ok());
  v1::DeployCvmRequest req = stack_->DeployRequest("deploy-1", "e2e-deploy-one");
  v1::Operation op;
  grpc::Status s = Deploy(req, &op);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(op.kind(), v1::OPERATION_KIND_DEPLOY_CVM);
  EXPECT_THAT(op.caller(), ::testing::StartsWith("uid:"));
  ASSERT_EQ(op.steps_size(), 6);
  EXPECT_EQ(op.steps(2).name(), "deploy_app_auth");

  // Watch: a snapshot, step events, the terminal state, then the stream ends with OK.
  grpc::ClientContext wctx;
  v1::WatchOperationRequest wreq;
  wreq.set_operation_id(op.id());
  auto reader = stack_->stub().WatchOperation(&wctx, wreq);
  std::vector<v1::OperationEvent> events;
  v1::OperationEvent ev;
  if (reader->Read(&ev)) events.push_back(ev);
  ASSERT_TRUE(stack_->ClearFaults().ok());
  while (reader->Read(&ev)) events.push_back(ev);
  grpc::Status ws = reader->Finish();
  EXPECT_TRUE(ws.ok()) << ws.error_message();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().type(), v1::OperationEvent::TYPE_SNAPSHOT);
  ASSERT_TRUE(events.front().operation().steps(2).transaction_hash().empty())
      << "the watcher attached after the transaction was sent: " << events.front().DebugString();
  EXPECT_EQ(events.back().operation().state(), v1::OPERATION_STATE_SUCCEEDED) << events.back().DebugString();
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].sequence(), i + 1);
  std::set<std::string> succeeded;
  std::set<std::string> progress_txs;
  for (const auto& e : events) {
    if (e.type() == v1::OperationEvent::TYPE_STEP_SUCCEEDED) succeeded.insert(e.step());
    if (e.type() == v1::OperationEvent::TYPE_STEP_PROGRESS && e.step() == "deploy_app_auth" &&
        !e.transaction_hash().empty()) {
      progress_txs.insert(e.transaction_hash());
    }
  }
  EXPECT_TRUE(succeeded.count("commit") == 1);

  absl::StatusOr<v1::Operation> done = stack_->Get(op.id());
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  const v1::DeployResult& d = done->deploy();
  EXPECT_EQ(d.kms_type(), v1::KMS_TYPE_BASE);
  EXPECT_EQ(d.chain_id(), 31337u);
  EXPECT_EQ(d.app_id(), d.app_auth_contract_address());
  EXPECT_EQ(Lower(d.deployer_address()), Lower(stack_->signer_address()));
  EXPECT_EQ(d.deploy_transaction_hash().size(), 66u);
  EXPECT_GT(d.deploy_block_number(), 0u);
  EXPECT_EQ(d.compose_hash().size(), 66u);
  EXPECT_FALSE(d.cvm_id().empty());
  EXPECT_EQ(done->cvm_id(), d.cvm_id());
  for (const v1::Step& st : done->steps()) EXPECT_EQ(st.state(), v1::STEP_STATE_SUCCEEDED) << st.name();
  // A progress event of deploy_app_auth carried the transaction, and it is the one the chain
  // mined: the receipt (status 1, in the reported block, to the KMS factory) holds the factory's
  // AppDeployedViaFactory for this app.
  EXPECT_THAT(progress_txs, ::testing::ElementsAre(d.deploy_transaction_hash()));
  ExpectAppDeployedBy(d.deploy_transaction_hash(), d.deploy_block_number(), d.app_id());

  // Exactly one AppAuth and one commit; the simulator decrypted exactly our env values, and the
  // on-chain app allows the compose hash.
  EXPECT_EQ(*stack_->CountAppDeployed(), *before + 1);
  EXPECT_EQ(stack_->CountSimRequests("POST", "/api/v1/cvms"), commits_before + 1);
  absl::StatusOr<json::object> cvm = stack_->SimCvm(d.cvm_id());
  ASSERT_TRUE(cvm.ok()) << cvm.status();
  const json::object& env = cvm->at("env").as_object();
  EXPECT_EQ(env.at("values").as_object().at("API_TOKEN").as_string(), "s3cr3t-value-for-deploy-1");
  EXPECT_EQ(env.at("values").as_object().at("MODE").as_string(), "production");
  EXPECT_EQ(*stack_->CountComposeHashAdded(d.app_id(), d.compose_hash()), 1);
  ExpectIndependentVerdict(*stack_, d.cvm_id(), d.compose_hash(),
                           {{"API_TOKEN", "s3cr3t-value-for-deploy-1"}, {"MODE", "production"}}, d.app_id());

  // The env values never reached the orchestrator's disk: not in the journal (nor its WAL), not
  // in its logs.
  for (const char* f : {"/journal.sqlite", "/journal.sqlite-wal", "/orchestrator.log"}) {
    std::ifstream in(stack_->dir() + f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_THAT(ss.str(), ::testing::Not(HasSubstr("s3cr3t-value-for-deploy-1"))) << f;
  }

  // Same request_id, same body: the same operation, nothing new.
  v1::Operation again;
  ASSERT_TRUE(Deploy(req, &again).ok());
  EXPECT_EQ(again.id(), op.id());
  EXPECT_EQ(again.state(), v1::OPERATION_STATE_SUCCEEDED);
  // Same request_id, different env value: ALREADY_EXISTS.
  v1::DeployCvmRequest other = req;
  other.mutable_env_vars(0)->set_value("another value");
  v1::Operation ignored;
  grpc::Status conflict = Deploy(other, &ignored);
  EXPECT_EQ(conflict.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(conflict.error_message(), HasSubstr("deploy-1"));
  EXPECT_THAT(conflict.error_message(), ::testing::Not(HasSubstr("another value")));
  EXPECT_EQ(*stack_->CountAppDeployed(), *before + 1);

  // Listed, filterable by kind and cvm.
  grpc::ClientContext lctx;
  v1::ListOperationsRequest lreq;
  lreq.set_kind(v1::OPERATION_KIND_DEPLOY_CVM);
  lreq.set_cvm_id(d.cvm_id());
  v1::ListOperationsResponse list;
  ASSERT_TRUE(stack_->stub().ListOperations(&lctx, lreq, &list).ok());
  ASSERT_EQ(list.operations_size(), 1);
  EXPECT_EQ(list.operations(0).id(), op.id());
}

TEST_F(FlowsE2eTest, ListPagesNewestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    v1::AddComposeHashRequest r;  // bad (no target) requests never list; use real ones below
    (void)r;
  }
  // Three cheap operations: direct compose-hash registrations on the KMS-deployed app of a deploy.
  v1::Operation deployed = DeployAndWait("list-deploy", "e2e-list-deploy");
  ASSERT_EQ(deployed.state(), v1::OPERATION_STATE_SUCCEEDED);
  for (int i = 0; i < 3; ++i) {
    v1::AddComposeHashRequest r;
    r.set_request_id(absl::StrCat("list-add-", i));
    r.mutable_app()->set_chain_id(31337);
    r.mutable_app()->set_app_contract_address(deployed.deploy().app_id());
    r.set_compose_hash(absl::StrCat(std::string(63, 'a'), i));
    grpc::ClientContext ctx;
    v1::Operation op;
    ASSERT_TRUE(stack_->stub().AddComposeHash(&ctx, r, &op).ok());
    ids.insert(ids.begin(), op.id());
    ASSERT_EQ(stack_->WaitFor(op.id())->state(), v1::OPERATION_STATE_SUCCEEDED);
  }
  v1::ListOperationsRequest lreq;
  lreq.set_kind(v1::OPERATION_KIND_ADD_COMPOSE_HASH);
  lreq.set_page_size(2);
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    grpc::ClientContext ctx;
    v1::ListOperationsResponse resp;
    ASSERT_TRUE(stack_->stub().ListOperations(&ctx, lreq, &resp).ok());
    for (const auto& op : resp.operations()) seen.push_back(op.id());
    if (resp.next_page_token().empty()) break;
    lreq.set_page_token(resp.next_page_token());
  }
  ASSERT_GE(seen.size(), 3u);
  EXPECT_EQ(std::vector<std::string>(seen.begin(), seen.begin() + 3), ids);
  // A token with changed filters is refused.
  lreq.set_kind(v1::OPERATION_KIND_DEPLOY_CVM);
  if (!lreq.page_token().empty()) {
    grpc::ClientContext ctx;
    v1::ListOperationsResponse resp;
    EXPECT_EQ(stack_->stub().ListOperations(&ctx, lreq, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

template <typename Request>
grpc::Status Call(grpc::Status (v1::Orchestrator::Stub::*m)(grpc::ClientContext*, const Request&, v1::Operation*),
                  Stack& stack, const Request& r, v1::Operation* op) {
  grpc::ClientContext ctx;
  return (stack.stub().*m)(&ctx, r, op);
}

v1::Operation RunOk(Stack& stack, const v1::Operation& started) {
  absl::StatusOr<v1::Operation> done = stack.WaitFor(started.id());
  EXPECT_TRUE(done.ok()) << done.status();
  if (!done.ok()) return started;
  EXPECT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  return *done;
}

const v1::Step& StepOf(const v1::Operation& op, const std::string& name) {
  for (const v1::Step& s : op.steps()) {
    if (s.name() == name) return s;
  }
  static v1::Step none;
  ADD_FAILURE() << "no step " << name;
  return none;
}

std::string SimComposeHash(Stack& stack, const std::string& cvm_id) {
  absl::StatusOr<json::object> cvm = stack.SimCvm(cvm_id);
  if (!cvm.ok()) return "";
  const json::object& o = *cvm;
  for (const char* k : {"compose_hash"}) {
    if (o.contains(k) && o.at(k).is_string()) return std::string(o.at(k).as_string());
  }
  if (o.contains("cvm") && o.at("cvm").is_object() && o.at("cvm").as_object().contains("compose_hash")) {
    return std::string(o.at("cvm").as_object().at("compose_hash").as_string());
  }
  return "";
}

std::string EnvValue(Stack& stack, const std::string& cvm_id, const std::string& key) {
  absl::StatusOr<json::object> cvm = stack.SimCvm(cvm_id);
  if (!cvm.ok()) return "<no cvm>";
  const json::value& env = cvm->at("env");
  if (!env.is_object() || !env.as_object().at("values").is_object()) return "<no env>";
  const json::object& values = env.as_object().at("values").as_object();
  return values.contains(key) ? std::string(values.at(key).as_string()) : "<absent>";
}

TEST_F(FlowsE2eTest, EnvUpdatesOneCallThenTwoPhase) {
  const v1::Operation dep = DeployAndWait("env-deploy", "e2e-env-updates");
  ASSERT_EQ(dep.state(), v1::OPERATION_STATE_SUCCEEDED);
  const std::string cvm = dep.deploy().cvm_id();
  const std::string app = dep.deploy().app_id();
  ASSERT_EQ(*stack_->CountComposeHashAdded(app), 1);

  // Same keys, new values: one call, nothing on chain.
  v1::UpdateEnvVarsRequest same;
  same.set_request_id("env-same");
  same.set_cvm_id(cvm);
  for (const auto& [k, v] : {std::pair<std::string, std::string>{"API_TOKEN", "rotated"}, {"MODE", "staging"}}) {
    v1::EnvVar* e = same.add_env_vars();
    e->set_key(k);
    e->set_value(v);
  }
  v1::Operation op;
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::UpdateEnvVars, *stack_, same, &op).ok());
  v1::Operation done = RunOk(*stack_, op);
  EXPECT_FALSE(done.update().two_phase());
  EXPECT_FALSE(done.update().correlation_id().empty());
  EXPECT_EQ(StepOf(done, "register_compose_hash").state(), v1::STEP_STATE_SKIPPED);
  EXPECT_EQ(StepOf(done, "confirm_update").state(), v1::STEP_STATE_SKIPPED);
  EXPECT_EQ(*stack_->CountComposeHashAdded(app), 1);
  EXPECT_EQ(EnvValue(*stack_, cvm, "API_TOKEN"), "rotated");
  ExpectIndependentVerdict(*stack_, cvm, dep.deploy().compose_hash(), {{"API_TOKEN", "rotated"}, {"MODE", "staging"}},
                           app);

  // A new key: the compose hash changes -> 465 -> addComposeHash -> retry with the proof.
  v1::UpdateEnvVarsRequest changed = same;
  changed.set_request_id("env-changed");
  v1::EnvVar* e = changed.add_env_vars();
  e->set_key("NEW_KEY");
  e->set_value("new value");
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::UpdateEnvVars, *stack_, changed, &op).ok());
  done = RunOk(*stack_, op);
  EXPECT_TRUE(done.update().two_phase());
  EXPECT_EQ(done.update().register_transaction_hash().size(), 66u);
  EXPECT_GT(done.update().register_block_number(), 0u);
  EXPECT_EQ(StepOf(done, "register_compose_hash").state(), v1::STEP_STATE_SUCCEEDED);
  EXPECT_EQ(StepOf(done, "confirm_update").state(), v1::STEP_STATE_SUCCEEDED);
  EXPECT_EQ(*stack_->CountComposeHashAdded(app), 2);
  EXPECT_EQ(*stack_->CountComposeHashAdded(app, done.update().compose_hash()), 1);
  EXPECT_EQ("0x" + SimComposeHash(*stack_, cvm), done.update().compose_hash());
  EXPECT_EQ(EnvValue(*stack_, cvm, "NEW_KEY"), "new value");
  ExpectIndependentVerdict(*stack_, cvm, done.update().compose_hash(),
                           {{"API_TOKEN", "rotated"}, {"MODE", "staging"}, {"NEW_KEY", "new value"}}, app);
}

TEST_F(FlowsE2eTest, DockerComposeUpdateTwoPhaseAndComposeFileUpdate) {
  const v1::Operation dep = DeployAndWait("dc-deploy", "e2e-docker-compose");
  ASSERT_EQ(dep.state(), v1::OPERATION_STATE_SUCCEEDED);
  const std::string cvm = dep.deploy().cvm_id();
  const std::string app = dep.deploy().app_id();

  v1::UpdateDockerComposeRequest dc;
  dc.set_request_id("dc-1");
  dc.set_cvm_id(cvm);
  dc.set_docker_compose_file("services:\n  app:\n    image: nginx:1.27\n");
  v1::Operation op;
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::UpdateDockerCompose, *stack_, dc, &op).ok());
  v1::Operation done = RunOk(*stack_, op);
  EXPECT_TRUE(done.update().two_phase());
  EXPECT_EQ(*stack_->CountComposeHashAdded(app, done.update().compose_hash()), 1);
  EXPECT_EQ("0x" + SimComposeHash(*stack_, cvm), done.update().compose_hash());
  // The proof went in the headers.
  bool proof_in_headers = false;
  for (const json::object& r : stack_->SimRequests("PATCH", "/api/v1/cvms/" + cvm + "/docker-compose")) {
    if (r.contains("headers") && r.at("headers").as_object().contains("x-transaction-hash")) proof_in_headers = true;
  }
  EXPECT_TRUE(proof_in_headers);
  ExpectIndependentVerdict(*stack_, cvm, done.update().compose_hash(),
                           {{"API_TOKEN", "s3cr3t-value-for-dc-deploy"}, {"MODE", "production"}}, app);

  // Compose-file API: get -> provision update -> register -> commit, here with new env vars.
  v1::UpdateComposeFileRequest cf;
  cf.set_request_id("cf-1");
  cf.set_cvm_id(cvm);
  cf.mutable_compose()->set_public_logs(false);
  cf.mutable_compose()->add_allowed_envs("API_TOKEN");
  cf.mutable_compose()->add_allowed_envs("MODE");
  cf.mutable_compose()->add_allowed_envs("EXTRA");
  cf.set_update_env_vars(true);
  for (const char* k : {"API_TOKEN", "EXTRA"}) {
    v1::EnvVar* e = cf.add_env_vars();
    e->set_key(k);
    e->set_value(std::string("cf-") + k);
  }
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::UpdateComposeFile, *stack_, cf, &op).ok());
  done = RunOk(*stack_, op);
  EXPECT_EQ(StepOf(done, "register_compose_hash").state(), v1::STEP_STATE_SUCCEEDED);
  EXPECT_EQ(StepOf(done, "encrypt_env").state(), v1::STEP_STATE_SUCCEEDED);
  EXPECT_EQ("0x" + SimComposeHash(*stack_, cvm), done.update().compose_hash());
  EXPECT_EQ(*stack_->CountComposeHashAdded(app, done.update().compose_hash()), 1);
  EXPECT_EQ(EnvValue(*stack_, cvm, "EXTRA"), "cf-EXTRA");
  const std::map<std::string, std::string> cf_env = {{"API_TOKEN", "cf-API_TOKEN"}, {"EXTRA", "cf-EXTRA"}};
  ExpectIndependentVerdict(*stack_, cvm, done.update().compose_hash(), cf_env, app);

  // Compose-file update with a mask, no env change; registering a hash the app already allows
  // then costs nothing (the API says registered, or the chain does).
  v1::UpdateComposeFileRequest cf2;
  cf2.set_request_id("cf-2");
  cf2.set_cvm_id(cvm);
  cf2.mutable_update_mask()->add_paths("public_sysinfo");
  cf2.mutable_compose()->set_public_sysinfo(false);
  cf2.mutable_compose()->set_public_logs(true);  // not in the mask: ignored
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::UpdateComposeFile, *stack_, cf2, &op).ok());
  done = RunOk(*stack_, op);
  EXPECT_EQ(StepOf(done, "encrypt_env").state(), v1::STEP_STATE_SKIPPED);
  EXPECT_EQ("0x" + SimComposeHash(*stack_, cvm), done.update().compose_hash());
  ExpectIndependentVerdict(*stack_, cvm, done.update().compose_hash(), cf_env, app);
}

TEST_F(FlowsE2eTest, DirectComposeHashRegistration) {
  const v1::Operation dep = DeployAndWait("add-deploy", "e2e-add-hash");
  ASSERT_EQ(dep.state(), v1::OPERATION_STATE_SUCCEEDED);
  const std::string hash = "0x" + std::string(64, 'b');
  v1::AddComposeHashRequest r;
  r.set_request_id("add-1");
  r.set_cvm_id(dep.deploy().cvm_id());
  r.set_compose_hash(hash);
  v1::Operation op;
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::AddComposeHash, *stack_, r, &op).ok());
  v1::Operation done = RunOk(*stack_, op);
  EXPECT_FALSE(done.add_compose_hash().already_registered());
  EXPECT_EQ(done.add_compose_hash().compose_hash(), hash);
  EXPECT_EQ(done.add_compose_hash().app_contract_address(), dep.deploy().app_id());
  const std::string tx = done.add_compose_hash().transaction_hash();
  EXPECT_EQ(tx.size(), 66u);
  // Again (by app contract): already allowed, the earlier transaction reported, nothing sent.
  v1::AddComposeHashRequest again;
  again.set_request_id("add-2");
  again.mutable_app()->set_chain_id(31337);
  again.mutable_app()->set_app_contract_address(absl::AsciiStrToLower(dep.deploy().app_id()));
  again.set_compose_hash(std::string(64, 'B'));
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::AddComposeHash, *stack_, again, &op).ok());
  done = RunOk(*stack_, op);
  EXPECT_TRUE(done.add_compose_hash().already_registered());
  EXPECT_EQ(done.add_compose_hash().transaction_hash(), tx);
  EXPECT_EQ(*stack_->CountComposeHashAdded(dep.deploy().app_id(), hash), 1);
}

TEST_F(FlowsE2eTest, PhalaKmsDeployAndUpdate) {
  v1::DeployCvmRequest r = stack_->DeployRequest("phala-1", "e2e-phala-kms");
  r.set_kms_type(v1::KMS_TYPE_PHALA);
  const int deployed_before = *stack_->CountAppDeployed();
  v1::Operation op;
  ASSERT_TRUE(Deploy(r, &op).ok());
  ASSERT_EQ(op.steps_size(), 3);
  v1::Operation done = RunOk(*stack_, op);
  EXPECT_EQ(done.deploy().kms_type(), v1::KMS_TYPE_PHALA);
  EXPECT_EQ(done.deploy().chain_id(), 0u);
  EXPECT_TRUE(done.deploy().app_auth_contract_address().empty());
  EXPECT_EQ(done.deploy().app_id().size(), 42u);
  EXPECT_EQ(*stack_->CountAppDeployed(), deployed_before);
  EXPECT_EQ(EnvValue(*stack_, done.deploy().cvm_id(), "API_TOKEN"), "s3cr3t-value-for-phala-1");
  ExpectIndependentVerdict(*stack_, done.deploy().cvm_id(), done.deploy().compose_hash(),
                           {{"API_TOKEN", "s3cr3t-value-for-phala-1"}, {"MODE", "production"}}, "");
  // A key change on the PHALA KMS: applied at once, nothing to register.
  v1::UpdateEnvVarsRequest u;
  u.set_request_id("phala-env");
  u.set_cvm_id(done.deploy().cvm_id());
  v1::EnvVar* e = u.add_env_vars();
  e->set_key("ONLY");
  e->set_value("one");
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::UpdateEnvVars, *stack_, u, &op).ok());
  done = RunOk(*stack_, op);
  EXPECT_FALSE(done.update().two_phase());
  EXPECT_EQ(EnvValue(*stack_, done.update().cvm_id(), "ONLY"), "one");
  ExpectIndependentVerdict(*stack_, done.update().cvm_id(), done.update().compose_hash(), {{"ONLY", "one"}}, "");
}

// Both services' /metrics during and after a deploy on the on-chain KMS. While the Phala Cloud
// simulator answers 503 to the app's env-encryption key, the operation is held in get_env_pubkey
// after its transaction (deterministically: until the fault is cleared), so the scrape "during"
// sees the operation started and not ended, the transaction sent and signed, the 5xx answers and
// the retries they caused; the scrape after sees it succeeded and every step timed.
TEST_F(FlowsE2eTest, BothServicesMetricsMoveDuringAndAfterADeploy) {
  using platform::http::testing::Exposition;
  const Exposition before = Metrics(), signer_before = Metrics(/*signer=*/true);
  auto delta = [](const Exposition& now, const Exposition& then, const std::string& series) {
    auto at = [&](const Exposition& e) {
      auto it = e.samples.find(series);
      return it == e.samples.end() ? 0.0 : it->second;
    };
    return at(now) - at(then);
  };
  struct ClearFaultsAtEnd {  // also when an assertion ends the test early: the stack is shared
    ~ClearFaultsAtEnd() { (void)stack_->ClearFaults(); }
  } clear_faults_at_end;
  // The KMS's env-key endpoint (GET /kms/{slug or id}/pubkey/...) answers 503 until cleared.
  grpc::ClientContext list_ctx;
  v1::ListKmsInstancesRequest list;
  list.set_onchain_only(true);
  v1::ListKmsInstancesResponse kms;
  ASSERT_TRUE(stack_->stub().ListKmsInstances(&list_ctx, list, &kms).ok());
  ASSERT_GE(kms.kms_instances_size(), 1);
  for (const v1::KmsInstance& k : kms.kms_instances()) {
    for (const std::string& ref : {k.id(), k.slug()}) {
      if (ref.empty()) continue;
      ASSERT_TRUE(
          stack_
              ->AddFault(absl::StrCat(R"({"kind": "error", "status": 503, "method": "GET", "path_prefix": "/kms/)", ref,
                                      R"(/pubkey"})"))
              .ok());
    }
  }
  v1::Operation op;
  ASSERT_TRUE(Deploy(stack_->DeployRequest("metrics-1", "e2e-metrics"), &op).ok());
  // Held: get_env_pubkey failed once and is being retried.
  absl::StatusOr<v1::Operation> held;
  for (int i = 0; i < 600; ++i) {
    held = stack_->Get(op.id());
    ASSERT_TRUE(held.ok()) << held.status();
    const v1::Step* s = nullptr;
    for (const v1::Step& st : held->steps()) {
      if (st.name() == "get_env_pubkey") s = &st;
    }
    if (s != nullptr && s->attempts() >= 2) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(held->state(), v1::OPERATION_STATE_RUNNING) << held->DebugString();
  const Exposition during = Metrics(), signer_during = Metrics(/*signer=*/true);
  const std::string deploy = "kind=\"deploy_cvm\"";
  auto step_count = [&](const Exposition& e, const Exposition& then, const std::string& step) {
    return delta(e, then,
                 absl::StrCat("orchestrator_step_duration_seconds_count{", deploy, ",step=\"", step,
                              "\",result=\"succeeded\"}"));
  };
  EXPECT_EQ(delta(during, before, "orchestrator_operations_started_total{" + deploy + "}"), 1);
  EXPECT_EQ(delta(during, before, "orchestrator_operations_succeeded_total{" + deploy + "}"), 0) << "still running";
  EXPECT_EQ(delta(during, before, "orchestrator_transactions_sent_total{chain_id=\"31337\"}"), 1);
  EXPECT_EQ(step_count(during, before, "deploy_app_auth"), 1);
  EXPECT_EQ(step_count(during, before, "get_env_pubkey"), 0);
  EXPECT_GE(delta(during, before, "orchestrator_phala_cloud_responses_total{class=\"5xx\"}"), 4)
      << "one step attempt: the client's 4 attempts";
  EXPECT_GE(delta(during, before, "orchestrator_retries_total{layer=\"phala_cloud\",cause=\"http_5xx\"}"), 3);
  EXPECT_GE(delta(during, before, "orchestrator_retries_total{layer=\"step\",cause=\"http_5xx\"}"), 1);
  const std::string sign = "method=\"SignDeployAndRegisterApp\"";
  EXPECT_EQ(delta(signer_during, signer_before, "signer_requests_total{" + sign + ",outcome=\"ok\"}"), 1);
  EXPECT_EQ(delta(signer_during, signer_before, "signer_signatures_total{" + sign + ",nonce_use=\"first\"}"), 1);
  EXPECT_EQ(delta(signer_during, signer_before, "signer_request_duration_seconds_count{" + sign + "}"), 1);
  EXPECT_EQ(delta(signer_during, signer_before, "signer_signing_duration_seconds_count{" + sign + "}"), 1);
  EXPECT_EQ(delta(signer_during, signer_before, "signer_equivocation_records_total"), 1);
  EXPECT_EQ(signer_during.samples.at("signer_keys_loaded"), 1);

  ASSERT_TRUE(stack_->ClearFaults().ok());
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id());
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  const Exposition after = Metrics(), signer_after = Metrics(/*signer=*/true);
  EXPECT_EQ(delta(after, before, "orchestrator_operations_started_total{" + deploy + "}"), 1);
  EXPECT_EQ(delta(after, before, "orchestrator_operations_succeeded_total{" + deploy + "}"), 1);
  EXPECT_EQ(delta(after, before, "orchestrator_operations_failed_total{" + deploy + "}"), 0);
  for (const char* step : {"provision", "check_kms", "deploy_app_auth", "get_env_pubkey", "encrypt_env", "commit"}) {
    EXPECT_EQ(step_count(after, before, step), 1) << step;
  }
  EXPECT_GE(delta(after, during, "orchestrator_phala_cloud_responses_total{class=\"2xx\"}"), 2) << "pubkey, commit";
  EXPECT_GE(delta(after, before, "orchestrator_phala_cloud_responses_total{class=\"2xx\"}"), 4)
      << "provision, kms, pubkey, commit";
  EXPECT_EQ(delta(after, before, "orchestrator_transactions_sent_total{chain_id=\"31337\"}"), 1);
  EXPECT_EQ(delta(after, before, "orchestrator_transaction_fee_bumps_total{chain_id=\"31337\"}"), 0);
  EXPECT_EQ(delta(after, before, "orchestrator_journal_write_duration_seconds_count{write=\"create\"}"), 1);
  EXPECT_GE(delta(after, before, "orchestrator_journal_write_duration_seconds_count{write=\"update\"}"), 7)
      << "each of the 6 steps' RUNNING write (with the step before's result), then the last result";
  EXPECT_EQ(delta(signer_after, signer_before, "signer_signatures_total{" + sign + ",nonce_use=\"first\"}"), 1);
  EXPECT_EQ(delta(signer_after, signer_before, "signer_equivocation_refusals_total{" + sign + "}"), 0);
  EXPECT_GE(delta(signer_after, signer_before, "signer_audit_write_duration_seconds_count{result=\"ok\"}"), 1);
}

TEST_F(FlowsE2eTest, ListKmsInstances) {
  grpc::ClientContext ctx;
  v1::ListKmsInstancesRequest r;
  r.set_onchain_only(true);
  v1::ListKmsInstancesResponse resp;
  ASSERT_TRUE(stack_->stub().ListKmsInstances(&ctx, r, &resp).ok());
  ASSERT_GE(resp.kms_instances_size(), 1);
  for (const v1::KmsInstance& k : resp.kms_instances()) {
    EXPECT_EQ(k.chain_id(), 31337u);
    EXPECT_EQ(absl::AsciiStrToLower(k.kms_contract_address()), stack_->kms_address());
    EXPECT_EQ(k.kms_type(), v1::KMS_TYPE_BASE) << "the chain's kms_type in the config";
  }
}

// Bad requests: INVALID_ARGUMENT naming the field, and nothing journaled.
TEST_F(FlowsE2eTest, BadRequestsAreRefusedAndNothingIsJournaled) {
  auto count = [&] {
    grpc::ClientContext ctx;
    v1::ListOperationsRequest l;
    l.set_page_size(500);
    v1::ListOperationsResponse resp;
    EXPECT_TRUE(stack_->stub().ListOperations(&ctx, l, &resp).ok());
    return resp.operations_size();
  };
  const int before = count();
  const size_t provisions_before = stack_->SimRequests("POST", "/api/v1/cvms/provision").size();
  const int apps_before = *stack_->CountAppDeployed();
  struct Case {
    std::string name;
    v1::DeployCvmRequest req;
    std::string field;
  };
  std::vector<Case> cases;
  auto base = [&] { return stack_->DeployRequest("bad-1", "e2e-bad-request"); };
  {
    Case c{"missing request id", base(), "request_id: required"};
    c.req.clear_request_id();
    cases.push_back(c);
  }
  {
    Case c{"missing name", base(), "name: required"};
    c.req.clear_name();
    cases.push_back(c);
  }
  {
    Case c{"bad name", base(), "name:"};
    c.req.set_name("1-bad--name");
    cases.push_back(c);
  }
  {
    Case c{"missing compose", base(), "compose.docker_compose_file: required"};
    c.req.mutable_compose()->clear_docker_compose_file();
    cases.push_back(c);
  }
  {
    Case c{"oversized compose", base(), "compose.docker_compose_file"};
    c.req.mutable_compose()->set_docker_compose_file(std::string(201 * 1024, 'x'));
    cases.push_back(c);
  }
  {
    Case c{"bad hex device", base(), "device_id"};
    c.req.set_device_id("0xnothex");
    cases.push_back(c);
  }
  {
    Case c{"bad owner address", base(), "app_owner_address"};
    c.req.set_app_owner_address("0x1234");
    cases.push_back(c);
  }
  {
    Case c{"unknown kms", base(), "kms_id: unknown KMS"};
    c.req.set_kms_id("kms-nowhere");
    cases.push_back(c);
  }
  {
    Case c{"missing kms type", base(), "kms_type"};
    c.req.clear_kms_type();
    cases.push_back(c);
  }
  {
    Case c{"duplicate env key", base(), "env_vars[1].key: duplicate"};
    c.req.mutable_env_vars(1)->set_key("API_TOKEN");
    cases.push_back(c);
  }
  {
    Case c{"oversized env value", base(), "env_vars[0].value"};
    c.req.mutable_env_vars(0)->set_value(std::string(65 * 1024, 'v'));
    cases.push_back(c);
  }
  {
    Case c{"bad env key", base(), "env_vars[0].key"};
    c.req.mutable_env_vars(0)->set_key("BAD KEY");
    cases.push_back(c);
  }
  for (const Case& c : cases) {
    v1::Operation op;
    grpc::Status s = Deploy(c.req, &op);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.field)) << c.name;
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("s3cr3t"))) << c.name;
    if (s.ok()) (void)stack_->WaitFor(op.id());  // accepted by mistake: let it reach what it reaches
  }
  {
    v1::UpdateEnvVarsRequest u;
    u.set_request_id("bad-2");
    v1::Operation op;
    grpc::Status s = Call(&v1::Orchestrator::Stub::UpdateEnvVars, *stack_, u, &op);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("cvm_id: required"));
  }
  {
    v1::AddComposeHashRequest a;
    a.set_request_id("bad-3");
    a.set_cvm_id("some-cvm");
    a.set_compose_hash("0x1234");
    v1::Operation op;
    grpc::Status s = Call(&v1::Orchestrator::Stub::AddComposeHash, *stack_, a, &op);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("compose_hash"));
  }
  {
    v1::UpdateComposeFileRequest cf;
    cf.set_request_id("bad-4");
    cf.set_cvm_id("some-cvm");
    cf.mutable_update_mask()->add_paths("no_such_field");
    v1::Operation op;
    grpc::Status s = Call(&v1::Orchestrator::Stub::UpdateComposeFile, *stack_, cf, &op);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("update_mask.paths[0]"));
  }
  EXPECT_EQ(count(), before);
  // Nothing reached the simulator's provision endpoint or the chain for them either.
  EXPECT_EQ(stack_->SimRequests("POST", "/api/v1/cvms/provision").size(), provisions_before);
  EXPECT_EQ(*stack_->CountAppDeployed(), apps_before);
}

TEST_F(FlowsE2eTest, CancelBeforeAnyEffectAndRefusedAfter) {
  // Provision is slow (simulated latency): cancel while it runs.
  ASSERT_TRUE(stack_->AddFault(R"({"kind":"latency","path_prefix":"/cvms/provision","latency_ms":1500})").ok());
  v1::Operation op;
  ASSERT_TRUE(Deploy(stack_->DeployRequest("cancel-1", "e2e-cancel-one"), &op).ok());
  ASSERT_TRUE(platform::testing::WaitFor([&] {  // provision is running (and slow): no effect yet
    absl::StatusOr<v1::Operation> now = stack_->Get(op.id());
    if (!now.ok()) return false;
    for (const v1::Step& step : now->steps()) {
      if (step.name() == "provision") return step.state() == v1::STEP_STATE_RUNNING;
    }
    return false;
  }));
  const int deployed_before = *stack_->CountAppDeployed();
  {
    grpc::ClientContext ctx;
    v1::CancelOperationRequest c;
    c.set_operation_id(op.id());
    v1::Operation cancelled;
    grpc::Status s = stack_->stub().CancelOperation(&ctx, c, &cancelled);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(cancelled.state(), v1::OPERATION_STATE_CANCELLED);
  }
  ASSERT_TRUE(stack_->ClearFaults().ok());
  absl::SleepFor(absl::Seconds(2));
  absl::StatusOr<v1::Operation> after = stack_->Get(op.id());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state(), v1::OPERATION_STATE_CANCELLED);
  EXPECT_EQ(*stack_->CountAppDeployed(), deployed_before);
  // A finished deploy cannot be cancelled.
  const v1::Operation dep = DeployAndWait("cancel-2", "e2e-cancel-two");
  grpc::ClientContext ctx;
  v1::CancelOperationRequest c;
  c.set_operation_id(dep.id());
  v1::Operation ignored;
  EXPECT_EQ(stack_->stub().CancelOperation(&ctx, c, &ignored).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(FlowsE2eTest, ManyDeploysAtOnceGetDistinctNonces) {
  const int apps = *stack_->CountAppDeployed();
  constexpr int kN = 8;
  std::vector<std::thread> threads;
  std::vector<std::string> ids(kN);
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&, i] {
      v1::Operation op;
      grpc::Status s = Deploy(stack_->DeployRequest(absl::StrCat("many-", i), absl::StrCat("e2e-many-", i)), &op);
      EXPECT_TRUE(s.ok()) << s.error_message();
      ids[i] = op.id();
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> txs;
  for (const std::string& id : ids) {
    absl::StatusOr<v1::Operation> done = stack_->WaitFor(id, absl::Seconds(60));
    ASSERT_TRUE(done.ok()) << done.status();
    EXPECT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
    txs.insert(done->deploy().deploy_transaction_hash());
  }
  EXPECT_EQ(txs.size(), static_cast<size_t>(kN));
  EXPECT_EQ(*stack_->CountAppDeployed(), apps + kN);
}

// The orchestrator's SignBatch against the real signer: a refused item (a KMS the signer's policy
// does not list) stops the later items of its sender, which come back not started and leave their
// nonce free. Nothing is broadcast: the nonces are far above the key's.
TEST_F(FlowsE2eTest, ASignBatchRefusedInItsMiddleLeavesTheLaterNoncesFree) {
  absl::StatusOr<std::unique_ptr<SignerClient>> client =
      SignerClient::Create({.address = absl::StrCat("unix:", stack_->dir(), "/s.sock")});
  ASSERT_TRUE(client.ok()) << client.status();
  const chain::Address from = *chain::Address::Parse(stack_->signer_address());
  const chain::Address kms = *chain::Address::Parse(stack_->kms_address());
  const chain::Address other_kms = *chain::Address::Parse("0x00000000000000000000000000000000000000c0");
  auto request = [&](uint64_t nonce, const chain::Address& factory, char hash_digit) {
    chain::onchain::TxEnvelope e{.request_id = absl::StrCat("op_batch/deploy_app_auth/", nonce),
                                 .chain_id = 31337,
                                 .from = from,
                                 .nonce = nonce,
                                 .gas_limit = 1500000,
                                 .max_fee_per_gas = chain::U256(2000000000),
                                 .max_priority_fee_per_gas = chain::U256(1000000000)};
    chain::DeployAndRegisterAppParams p;
    p.initial_owner = from;
    p.initial_compose_hash = *chain::Hash32::FromHex(std::string(64, hash_digit));
    return chain::onchain::TxRequest{e, chain::onchain::TxIntent::Deploy(factory, p)};
  };
  const uint64_t n = 900000 + static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()) % 1000) * 10;
  std::vector<absl::StatusOr<chain::onchain::SignedTx>> out = (*client)->SignBatch(
      {request(n, kms, 'a'), request(n + 1, other_kms, 'b'), request(n + 2, kms, 'c'), request(n + 3, kms, 'd')});
  ASSERT_EQ(out.size(), 4u);
  ASSERT_TRUE(out[0].ok()) << out[0].status();
  EXPECT_EQ(out[0]->nonce_use, chain::onchain::NonceUse::kFirst);
  EXPECT_EQ(out[1].status().code(), absl::StatusCode::kPermissionDenied) << out[1].status();
  EXPECT_TRUE(chain::onchain::IsNotStarted(out[2].status())) << out[2].status();
  EXPECT_TRUE(chain::onchain::IsNotStarted(out[3].status())) << out[3].status();
  // Renumbered: another transaction at n + 1 and n + 2 is a first signature, nothing was recorded.
  for (uint64_t nonce : {n + 1, n + 2}) {
    chain::onchain::TxRequest again = request(nonce, kms, 'e');
    absl::StatusOr<chain::onchain::SignedTx> tx = chain::onchain::SignIntent(**client, again.envelope, again.intent);
    ASSERT_TRUE(tx.ok()) << tx.status();
    EXPECT_EQ(tx->nonce_use, chain::onchain::NonceUse::kFirst) << nonce;
  }
  // The repair after a crash (only_if_signed): what was signed comes back as the REPEAT; what the
  // batch did not start is NOT_FOUND, never signed late.
  chain::onchain::TxRequest first = request(n, kms, 'a');
  first.envelope.only_if_signed = true;
  absl::StatusOr<chain::onchain::SignedTx> repeat = chain::onchain::SignIntent(**client, first.envelope, first.intent);
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_EQ(repeat->nonce_use, chain::onchain::NonceUse::kRepeat);
  EXPECT_EQ(repeat->raw, out[0]->raw);
  chain::onchain::TxRequest not_started = request(n + 3, kms, 'd');
  not_started.envelope.only_if_signed = true;
  EXPECT_EQ(chain::onchain::SignIntent(**client, not_started.envelope, not_started.intent).status().code(),
            absl::StatusCode::kNotFound);
}

// The check the SDK does not make: the simulator ignores `secure_time` in a provision (it
// always builds secure_time:false), so the compose hash it returns is not the hash of what we
// sent. Strict (default): nothing is signed. Warn-only: logged, the API's hash is used.
TEST_F(FlowsE2eTest, ComposeHashMismatchIsRefusedUnlessWarnOnly) {
  const int apps = *stack_->CountAppDeployed();
  v1::DeployCvmRequest r = stack_->DeployRequest("mismatch-1", "e2e-mismatch-one");
  r.mutable_compose()->set_secure_time(true);
  v1::Operation op;
  ASSERT_TRUE(Deploy(r, &op).ok());
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id());
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_FAILED);
  EXPECT_EQ(done->error().step(), "provision");
  EXPECT_EQ(done->error().code(), 9) << "FAILED_PRECONDITION";
  EXPECT_THAT(done->error().message(), HasSubstr("compose hash mismatch"));
  EXPECT_THAT(done->error().message(), HasSubstr("nothing was signed"));
  EXPECT_EQ(*stack_->CountAppDeployed(), apps);

  ASSERT_TRUE(stack_->StopOrchestrator().ok());
  ASSERT_TRUE(stack_->SetComposeHashWarnOnly(true).ok());
  ASSERT_TRUE(stack_->StartOrchestrator().ok());
  r.set_request_id("mismatch-2");
  r.set_name("e2e-mismatch-two");
  ASSERT_TRUE(Deploy(r, &op).ok());
  done = stack_->WaitFor(op.id());
  ASSERT_TRUE(stack_->StopOrchestrator().ok());
  ASSERT_TRUE(stack_->SetComposeHashWarnOnly(false).ok());
  ASSERT_TRUE(stack_->StartOrchestrator().ok());
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  EXPECT_THAT(stack_->orchestrator_log(), HasSubstr("compose hash mismatch (compose_hash_check_warn_only"));
  EXPECT_EQ(*stack_->CountAppDeployed(), apps + 1);
}

// The app-compose fields the orchestrator fills in itself (orchestrator/flows/deploy.cc) where the
// SDK's provisionCvm sends nothing for the same input: the service's defaults, guessed (the
// simulator guesses the same). docs/app-compose-defaults.md lists each with its source.
const std::set<std::string>& GuessedServiceDefaults() {
  static const std::set<std::string> fields = {
      "features",         "gateway_enabled", "kms_enabled", "key_provider_id", "local_key_provider_enabled",
      "manifest_version", "no_instance_id",  "public_logs", "public_sysinfo",  "public_tcbinfo",
      "runner",           "secure_time"};
  return fields;
}

// Runs test/oracle/sdk_provision.js: the real SDK's provisionCvm against the simulator.
json::object SdkProvision(Stack& stack, const json::object& params) {
  absl::StatusOr<std::string> modules = testsupport::NodeModulesDir();
  EXPECT_TRUE(modules.ok()) << modules.status();
  const std::string script =
      absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"), "/test/oracle/sdk_provision.js");
  absl::StatusOr<anvil::CommandResult> r =
      anvil::RunCommand({"/usr/bin/env", absl::StrCat("PHALA_CLOUD_API_KEY=", cloudsim::testing::SimInstance::kApiKey),
                         "node", script, modules.value_or(""), stack.sim_base_url(), json::serialize(params)});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {};
  EXPECT_EQ(r->exit_code, 0) << r->err;
  json::error_code ec;
  json::value v = json::parse(r->out, ec);
  EXPECT_FALSE(ec) << r->out;
  return !ec && v.is_object() ? v.as_object() : json::object{};
}

// The provision the real SDK sends and the one the orchestrator sends for the same input (a
// compose, its env keys, the BASE KMS): the same body except the app-compose fields the
// orchestrator spells out, which are exactly the listed guesses; and the compose hash the service
// answers to the SDK's body is the one the orchestrator expected and registered.
TEST_F(FlowsE2eTest, ProvisionMatchesTheSdkForTheSameInput) {
  const std::string name = "e2e-sdk-defaults";
  const v1::DeployCvmRequest req = stack_->DeployRequest("sdk-defaults", name);
  json::array keys;
  for (const v1::EnvVar& e : req.env_vars()) keys.emplace_back(e.key());
  json::object compose_file;
  compose_file["docker_compose_file"] = req.compose().docker_compose_file();
  compose_file["allowed_envs"] = keys;
  json::object params;
  params["name"] = name;
  params["compose_file"] = compose_file;
  params["kms"] = "BASE";
  params["env_keys"] = keys;
  const json::object sdk = SdkProvision(*stack_, params);
  ASSERT_TRUE(sdk.contains("result")) << json::serialize(sdk);
  v1::Operation op;
  ASSERT_TRUE(Deploy(req, &op).ok());
  const v1::Operation done = RunOk(*stack_, op);

  std::vector<json::object> bodies;  // the SDK's, then ours
  for (const json::object& r : stack_->SimRequests("POST", "/api/v1/cvms/provision")) {
    const json::value* b = r.if_contains("body");
    if (b != nullptr && b->is_object() && b->as_object().contains("name") &&
        b->as_object().at("name") == json::value(name)) {
      bodies.push_back(b->as_object());
    }
  }
  ASSERT_EQ(bodies.size(), 2u);
  const json::object& theirs = bodies[0];
  const json::object& ours = bodies[1];
  std::set<std::string> top;
  for (const auto* body : {&theirs, &ours}) {
    for (const auto& kv : *body) top.insert(std::string(kv.key()));
  }
  for (const std::string& k : top) {
    if (k == "compose_file") continue;
    EXPECT_EQ(theirs.contains(k) ? json::serialize(theirs.at(k)) : "<absent>",
              ours.contains(k) ? json::serialize(ours.at(k)) : "<absent>")
        << k;
  }
  const json::object& their_compose = theirs.at("compose_file").as_object();
  const json::object& our_compose = ours.at("compose_file").as_object();
  for (const auto& kv : their_compose) {
    const std::string k(kv.key());
    // The SDK defaults compose_file.name to ""; the service then names the app compose after the
    // CVM (a guess), which is what we send.
    const json::value want = k == "name" && kv.value() == "" ? json::value(name) : kv.value();
    EXPECT_EQ(our_compose.contains(k) ? json::serialize(our_compose.at(k)) : "<absent>", json::serialize(want)) << k;
  }
  std::set<std::string> spelled_out;
  for (const auto& kv : our_compose) {
    if (!their_compose.contains(kv.key())) spelled_out.insert(std::string(kv.key()));
  }
  EXPECT_EQ(spelled_out, GuessedServiceDefaults());
  EXPECT_EQ("0x" + std::string(sdk.at("result").at("compose_hash").as_string()), done.deploy().compose_hash());
  ExpectIndependentVerdict(*stack_, done.deploy().cvm_id(), done.deploy().compose_hash(),
                           {{"API_TOKEN", "s3cr3t-value-for-sdk-defaults"}, {"MODE", "production"}},
                           done.deploy().app_id());
}

// trusted_kms_signers: the KMS's signature over the app's env-encryption key must be by the
// configured key (the simulator publishes its KMS signing keys at /_sim/kms).
TEST_F(FlowsE2eTest, EnvKeySignatureVerifiedAgainstTheTrustedKmsKey) {
  json::value kms = stack_->SimAdmin("GET", "/kms").json();
  std::string base_id, base_key, other_key;
  for (const json::value& k : kms.as_object().at("kms").as_array()) {
    const json::object& o = k.as_object();
    if (o.at("type").as_string() == "BASE") {
      base_id = std::string(o.at("id").as_string());
      base_key = std::string(o.at("signer_public_key").as_string());
    } else if (o.at("type").as_string() == "ETHEREUM") {
      other_key = std::string(o.at("signer_public_key").as_string());
    }
  }
  ASSERT_FALSE(base_id.empty());
  ASSERT_FALSE(other_key.empty());
  auto restart_with = [&](const std::string& key) {
    ASSERT_TRUE(stack_->StopOrchestrator().ok());
    ASSERT_TRUE(stack_
                    ->SetExtraConfig(key.empty() ? ""
                                                 : absl::StrCat("trusted_kms_signers { kms_id: \"", base_id,
                                                                "\" public_key: \"", key, "\" }"))
                    .ok());
    ASSERT_TRUE(stack_->StartOrchestrator().ok());
  };
  restart_with(base_key);
  v1::DeployCvmRequest r = stack_->DeployRequest("trusted-1", "e2e-trusted-one");
  r.set_kms_id(base_id);
  v1::Operation op;
  ASSERT_TRUE(Deploy(r, &op).ok());
  v1::Operation done = RunOk(*stack_, op);
  EXPECT_THAT(StepOf(done, "get_env_pubkey").detail(), HasSubstr("verified"));
  // The same KMS id configured with another key: refused before anything is encrypted or committed.
  restart_with(other_key);
  const int commits = stack_->CountSimRequests("POST", "/api/v1/cvms");
  r.set_request_id("trusted-2");
  r.set_name("e2e-trusted-two");
  ASSERT_TRUE(Deploy(r, &op).ok());
  absl::StatusOr<v1::Operation> failed = stack_->WaitFor(op.id());
  restart_with("");
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->state(), v1::OPERATION_STATE_FAILED) << failed->DebugString();
  EXPECT_EQ(failed->error().step(), "get_env_pubkey");
  EXPECT_EQ(failed->error().code(), 7) << "PERMISSION_DENIED";
  EXPECT_EQ(stack_->CountSimRequests("POST", "/api/v1/cvms"), commits);
}

}  // namespace
}  // namespace orchestrator::e2e
