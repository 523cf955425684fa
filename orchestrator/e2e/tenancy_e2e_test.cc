// Tenancy, proven on the real processes (anvil, the Phala Cloud simulator, the signer, the
// orchestrator) over TCP with TLS and bearer tokens: tenants alpha and beta, a viewer of alpha,
// an admin, an auditor and a token with no role. Every RPC is asserted for each of them: another
// tenant's operation is NOT_FOUND exactly as an id that does not exist, lists show only the
// tenant's operations, read-only roles cannot act, and no tenant signs with a key it is not
// granted (at submit when the chain is known, in the signing path when it is learned at run
// time: nothing reaches the chain).
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "orchestrator/e2e/stack_test.h"
#include "orchestrator/e2e/test_pki.h"

namespace orchestrator::e2e {
namespace {

using ::testing::HasSubstr;

// Beta's grant: anvil's key #1, not the deployer key alpha is granted.
constexpr char kBetaKey[] = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

// A client with one bearer token.
class As {
 public:
  As(v1::Orchestrator::Stub& stub, std::string token) : stub_(stub), token_(std::move(token)) {}

  std::unique_ptr<grpc::ClientContext> Context() const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    ctx->AddMetadata("authorization", "Bearer " + token_);
    return ctx;
  }
  grpc::Status Deploy(const v1::DeployCvmRequest& r, v1::Operation* op = nullptr) {
    v1::Operation o;
    return stub_.DeployCvm(Context().get(), r, op != nullptr ? op : &o);
  }
  grpc::Status Get(const std::string& id, v1::Operation* op = nullptr) {
    v1::GetOperationRequest r;
    r.set_operation_id(id);
    v1::Operation o;
    return stub_.GetOperation(Context().get(), r, op != nullptr ? op : &o);
  }
  grpc::Status Cancel(const std::string& id) {
    v1::CancelOperationRequest r;
    r.set_operation_id(id);
    v1::Operation o;
    return stub_.CancelOperation(Context().get(), r, &o);
  }
  grpc::Status Supply(const std::string& id, const std::string& request_id = "supply-1") {
    v1::SupplyEnvVarsRequest r;
    r.set_request_id(request_id);
    r.set_operation_id(id);
    v1::EnvVar* e = r.add_env_vars();
    e->set_key("API_TOKEN");
    e->set_value("a-guess");
    v1::Operation o;
    return stub_.SupplyEnvVars(Context().get(), r, &o);
  }
  grpc::Status SubmitOwnerTx(const std::string& id) {
    v1::SubmitOwnerTransactionRequest r;
    r.set_request_id("owner-tx-1");
    r.set_operation_id(id);
    r.set_transaction_hash("0x" + std::string(64, 'a'));
    v1::Operation o;
    return stub_.SubmitOwnerTransaction(Context().get(), r, &o);
  }
  // The status the stream ends with and how many events came first.
  grpc::Status Watch(const std::string& id, int* events = nullptr) {
    v1::WatchOperationRequest r;
    r.set_operation_id(id);
    auto ctx = Context();
    std::unique_ptr<grpc::ClientReader<v1::OperationEvent>> reader = stub_.WatchOperation(ctx.get(), r);
    v1::OperationEvent e;
    int n = 0;
    while (reader->Read(&e)) ++n;
    if (events != nullptr) *events = n;
    return reader->Finish();
  }
  grpc::Status List(std::vector<std::string>* ids, const std::string& page_token = "", std::string* next = nullptr) {
    v1::ListOperationsRequest r;
    r.set_page_size(500);
    r.set_page_token(page_token);
    v1::ListOperationsResponse out;
    grpc::Status s = stub_.ListOperations(Context().get(), r, &out);
    ids->clear();
    for (const v1::Operation& op : out.operations()) ids->push_back(op.id());
    if (next != nullptr) *next = out.next_page_token();
    return s;
  }
  grpc::Status ListKms(v1::ListKmsInstancesResponse* out) {
    v1::ListKmsInstancesRequest r;
    return stub_.ListKmsInstances(Context().get(), r, out);
  }
  grpc::Status GetCvm(const std::string& cvm_id, v1::Cvm* out = nullptr) {
    v1::GetCvmRequest r;
    r.set_cvm_id(cvm_id);
    v1::Cvm c;
    return stub_.GetCvm(Context().get(), r, out != nullptr ? out : &c);
  }
  // Every page of ListCvms (two CVMs a page); the ids.
  grpc::Status ListCvms(std::vector<std::string>* ids) {
    ids->clear();
    v1::ListCvmsRequest r;
    r.set_page_size(2);
    for (;;) {
      v1::ListCvmsResponse page;
      grpc::Status s = stub_.ListCvms(Context().get(), r, &page);
      if (!s.ok()) return s;
      for (const v1::Cvm& c : page.cvms()) ids->push_back(c.id());
      if (page.next_page_token().empty()) return s;
      r.set_page_token(page.next_page_token());
    }
  }
  grpc::Status ListNodes() {
    v1::ListNodesResponse out;
    return stub_.ListNodes(Context().get(), v1::ListNodesRequest(), &out);
  }
  grpc::Status UpdateEnv(const std::string& cvm_id) {
    v1::UpdateEnvVarsRequest r;
    r.set_request_id("upd-env");
    r.set_cvm_id(cvm_id);
    v1::EnvVar* e = r.add_env_vars();
    e->set_key("API_TOKEN");
    e->set_value("x");
    v1::Operation o;
    return stub_.UpdateEnvVars(Context().get(), r, &o);
  }
  grpc::Status UpdateCompose(const std::string& cvm_id) {
    v1::UpdateDockerComposeRequest r;
    r.set_request_id("upd-compose");
    r.set_cvm_id(cvm_id);
    r.set_docker_compose_file("services:\n  evil:\n    image: evil:latest\n");
    v1::Operation o;
    return stub_.UpdateDockerCompose(Context().get(), r, &o);
  }
  grpc::Status UpdateComposeFile(const std::string& cvm_id) {
    v1::UpdateComposeFileRequest r;
    r.set_request_id("upd-file");
    r.set_cvm_id(cvm_id);
    r.mutable_compose()->set_docker_compose_file("services:\n  evil:\n    image: evil:latest\n");
    r.mutable_update_mask()->add_paths("docker_compose_file");
    v1::Operation o;
    return stub_.UpdateComposeFile(Context().get(), r, &o);
  }
  grpc::Status AddHash(uint64_t chain_id, const std::string& app, const std::string& key, v1::Operation* op = nullptr) {
    v1::AddComposeHashRequest r;
    r.set_request_id("add-hash-" + key);
    r.mutable_app()->set_chain_id(chain_id);
    r.mutable_app()->set_app_contract_address(app);
    r.set_compose_hash("0x" + std::string(64, 'e'));
    r.set_signer_key_address(key);
    v1::Operation o;
    return stub_.AddComposeHash(Context().get(), r, op != nullptr ? op : &o);
  }

  grpc::Status UpdateApp(const std::string& cvm_id) {
    v1::UpdateAppContractRequest r;
    r.set_request_id("upd-app");
    r.set_cvm_id(cvm_id);
    r.mutable_set_allow_any_device()->set_allow_any_device(true);
    v1::Operation o;
    return stub_.UpdateAppContract(Context().get(), r, &o);
  }
  grpc::Status AppState(const std::string& cvm_id) {
    v1::GetAppStateRequest r;
    r.set_cvm_id(cvm_id);
    v1::AppState s;
    return stub_.GetAppState(Context().get(), r, &s);
  }

  grpc::Status AddHashOnCvm(const std::string& cvm_id) {
    v1::AddComposeHashRequest r;
    r.set_request_id("add-hash-cvm");
    r.set_cvm_id(cvm_id);
    r.set_compose_hash("0x" + std::string(64, 'd'));
    v1::Operation o;
    return stub_.AddComposeHash(Context().get(), r, &o);
  }

  // Polls Get until terminal.
  v1::Operation WaitDone(const std::string& id) {
    v1::Operation op;
    const absl::Time until = absl::Now() + absl::Seconds(60);
    while (absl::Now() < until) {
      if (Get(id, &op).ok() &&
          (op.state() == v1::OPERATION_STATE_SUCCEEDED || op.state() == v1::OPERATION_STATE_FAILED ||
           op.state() == v1::OPERATION_STATE_CANCELLED)) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return op;
  }

 private:
  v1::Orchestrator::Stub& stub_;
  const std::string token_;
};

class TenancyE2eTest : public StackTest<> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new platform::testing::ShortTempDir();
    const std::string d = dir_->path();
    ASSERT_TRUE(MakeTestPki(d, {}).ok());
    std::string tokens;
    for (const char* name : {"a", "b", "a-view", "admin", "audit", "stranger"}) {
      absl::StrAppend(&tokens, BearerTokenLine(name, absl::StrCat("tok-", name)));
    }
    { std::ofstream(d + "/tokens") << tokens; }
    StackOptions o;
    o.listen =
        absl::StrCat("listen { tcp { address: \"127.0.0.1:0\" tls { cert_file: \"", d, "/server.pem\" key_file: \"", d,
                     "/server.key\" } bearer_tokens_file: \"", d, "/tokens\" } }");
    o.extra_config = absl::StrCat(R"pb(access {
  admins: "token:admin"
  auditors: "token:audit"
  tenants {
    name: "alpha"
    members: "token:a"
    viewers: "token:a-view"
    signer_keys { address: ")pb",
                                  anvil::kDeployerAddress, R"pb(" }
  }
  tenants {
    name: "beta"
    members: "token:b"
    signer_keys { address: ")pb",
                                  kBetaKey, R"pb(" }
  }
})pb");
    StartStack(o);
    if (stack_ == nullptr) return;
    const std::string port = stack_->address().substr(stack_->address().rfind(':') + 1);
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadTextFile(d + "/ca.pem");
    stub_ = v1::Orchestrator::NewStub(grpc::CreateChannel("localhost:" + port, grpc::SslCredentials(tls))).release();
  }
  static void TearDownTestSuite() {
    delete stub_;
    StackTest<>::TearDownTestSuite();
    delete dir_;
  }

  static As Client(const std::string& name) { return As(*stub_, "tok-" + name); }

  // Alpha's deploy (once per suite), finished.
  static const v1::Operation& AlphaDeploy() {
    static v1::Operation* done = [] {
      As a = Client("a");
      v1::Operation op;
      grpc::Status s = a.Deploy(stack_->DeployRequest("alpha-1", "alpha-app"), &op);
      EXPECT_TRUE(s.ok()) << s.error_message();
      return new v1::Operation(a.WaitDone(op.id()));
    }();
    return *done;
  }

  // An id of the same shape that names nothing.
  static std::string NoSuchId(const std::string& like) {
    std::string id = like;
    id.replace(id.size() - 6, 6, id.substr(id.size() - 6, 1) == "Z" ? "YYYYYY" : "ZZZZZZ");
    return id;
  }

  static std::string NotFound(const std::string& id) { return absl::StrCat("operation ", id, " not found"); }

  inline static platform::testing::ShortTempDir* dir_ = nullptr;
  inline static v1::Orchestrator::Stub* stub_ = nullptr;
};

TEST_F(TenancyE2eTest, AlphaDeploysAndSeesItsOperation) {
  const v1::Operation& op = AlphaDeploy();
  ASSERT_EQ(op.state(), v1::OPERATION_STATE_SUCCEEDED) << op.DebugString();
  EXPECT_EQ(op.caller(), "token:a");
  As a = Client("a");
  std::vector<std::string> ids;
  ASSERT_TRUE(a.List(&ids).ok());
  EXPECT_THAT(ids, ::testing::Contains(op.id()));
  int events = 0;
  EXPECT_TRUE(a.Watch(op.id(), &events).ok());
  EXPECT_EQ(events, 1);  // the snapshot of a finished operation
}

TEST_F(TenancyE2eTest, AnotherTenantGetsNotFoundExactlyAsForAnIdThatDoesNotExist) {
  const std::string id = AlphaDeploy().id();
  const std::string none = NoSuchId(id);
  As b = Client("b");
  auto same = [&](const char* rpc, const grpc::Status& on_alpha, const grpc::Status& on_none) {
    EXPECT_EQ(on_alpha.error_code(), grpc::StatusCode::NOT_FOUND) << rpc << ": " << on_alpha.error_message();
    EXPECT_EQ(on_none.error_code(), grpc::StatusCode::NOT_FOUND) << rpc;
    EXPECT_EQ(on_alpha.error_message(), NotFound(id)) << rpc;
    EXPECT_EQ(on_none.error_message(), NotFound(none)) << rpc;
    EXPECT_EQ(absl::StrReplaceAll(on_alpha.error_message(), {{id, none}}), on_none.error_message()) << rpc;
  };
  same("GetOperation", b.Get(id), b.Get(none));
  same("WatchOperation", b.Watch(id), b.Watch(none));
  same("CancelOperation", b.Cancel(id), b.Cancel(none));
  same("SupplyEnvVars", b.Supply(id), b.Supply(none));
  same("SubmitOwnerTransaction", b.SubmitOwnerTx(id), b.SubmitOwnerTx(none));
  std::vector<std::string> ids;
  ASSERT_TRUE(b.List(&ids).ok());
  EXPECT_THAT(ids, ::testing::Not(::testing::Contains(id)));
  // Alpha's page tokens are bound to alpha (a second operation of alpha's makes two pages).
  As a = Client("a");
  v1::Operation second;
  ASSERT_TRUE(a.Deploy(stack_->DeployRequest("alpha-2", "alpha-app-2"), &second).ok());
  a.WaitDone(second.id());
  v1::ListOperationsRequest r;
  r.set_page_size(1);
  v1::ListOperationsResponse page;
  ASSERT_TRUE(stub_->ListOperations(a.Context().get(), r, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());
  r.set_page_token(page.next_page_token());
  grpc::Status other = stub_->ListOperations(b.Context().get(), r, &page);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << other.error_message();
  EXPECT_TRUE(stub_->ListOperations(a.Context().get(), r, &page).ok());
  // Alpha's operation is untouched by all of that.
  v1::Operation after;
  ASSERT_TRUE(a.Get(id, &after).ok());
  EXPECT_EQ(after.state(), v1::OPERATION_STATE_SUCCEEDED);
}

TEST_F(TenancyE2eTest, ViewerListsGetsAndWatchesButCannotAct) {
  const std::string id = AlphaDeploy().id();
  As v = Client("a-view");
  std::vector<std::string> ids;
  ASSERT_TRUE(v.List(&ids).ok());
  EXPECT_THAT(ids, ::testing::Contains(id));
  EXPECT_TRUE(v.Get(id).ok());
  int events = 0;
  EXPECT_TRUE(v.Watch(id, &events).ok());
  EXPECT_EQ(events, 1);
  v1::ListKmsInstancesResponse kms;
  EXPECT_TRUE(v.ListKms(&kms).ok());
  for (const grpc::Status& s : {v.Deploy(stack_->DeployRequest("view-1", "v")), v.Cancel(id), v.Supply(id),
                                v.SubmitOwnerTx(id), v.UpdateEnv("cvm-x"), v.UpdateCompose("cvm-x"),
                                v.UpdateComposeFile("cvm-x"), v.AddHash(31337, kBetaKey, anvil::kDeployerAddress)}) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("access.tenants[0].viewers[0]"));
  }
  // A viewer of alpha sees nothing of beta's.
  As b = Client("b");
  v1::DeployCvmRequest r = stack_->DeployRequest("beta-visible", "beta-app");
  r.set_signer_key_address(kBetaKey);
  v1::Operation beta_op;
  ASSERT_TRUE(b.Deploy(r, &beta_op).ok());
  EXPECT_EQ(v.Get(beta_op.id()).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(v.List(&ids).ok());
  EXPECT_THAT(ids, ::testing::Not(::testing::Contains(beta_op.id())));
  b.WaitDone(beta_op.id());
}

TEST_F(TenancyE2eTest, AdminSeesAllAndAuditorIsReadOnly) {
  const std::string id = AlphaDeploy().id();
  As b = Client("b");
  v1::DeployCvmRequest r = stack_->DeployRequest("beta-admin", "beta-app2");
  r.set_signer_key_address(kBetaKey);
  v1::Operation beta_op;
  ASSERT_TRUE(b.Deploy(r, &beta_op).ok());
  for (const char* who : {"admin", "audit"}) {
    As x = Client(who);
    std::vector<std::string> ids;
    ASSERT_TRUE(x.List(&ids).ok()) << who;
    EXPECT_THAT(ids, ::testing::IsSupersetOf({id, beta_op.id()})) << who;
    EXPECT_TRUE(x.Get(id).ok()) << who;
    EXPECT_TRUE(x.Get(beta_op.id()).ok()) << who;
    EXPECT_TRUE(x.Watch(id).ok()) << who;
  }
  As audit = Client("audit");
  for (const grpc::Status& s : {audit.Deploy(stack_->DeployRequest("audit-1", "x")), audit.Cancel(beta_op.id()),
                                audit.Supply(id), audit.SubmitOwnerTx(id), audit.UpdateEnv("cvm-x"),
                                audit.UpdateCompose("cvm-x"), audit.UpdateComposeFile("cvm-x"),
                                audit.AddHash(31337, kBetaKey, anvil::kDeployerAddress), audit.UpdateApp("cvm-x")}) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("access.auditors[0]"));
  }
  // The admin acts on another tenant's operation: it is finished, so the answer is the
  // operation's state, not a refusal.
  As admin = Client("admin");
  b.WaitDone(beta_op.id());
  EXPECT_EQ(admin.Cancel(beta_op.id()).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(admin.Supply(beta_op.id()).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // Not waiting for the owner: refused, nothing looked up on chain.
  grpc::Status not_waiting = admin.SubmitOwnerTx(beta_op.id());
  EXPECT_EQ(not_waiting.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << not_waiting.error_message();
  EXPECT_THAT(not_waiting.error_message(), HasSubstr("not waiting for the owner"));
}

TEST_F(TenancyE2eTest, CvmReadsAreTenantScoped) {
  const std::string alpha_cvm = AlphaDeploy().deploy().cvm_id();
  ASSERT_FALSE(alpha_cvm.empty());
  // A CVM of no tenant (an admin's deploy), then adopted into beta's scope (beta's own key is not
  // in the signer, so beta cannot deploy one itself).
  As admin = Client("admin");
  As b = Client("b");
  v1::Operation admin_op;
  ASSERT_TRUE(admin.Deploy(stack_->DeployRequest("admin-cvm-reads", "admin-reads-app"), &admin_op).ok());
  const std::string beta_cvm = admin.WaitDone(admin_op.id()).deploy().cvm_id();
  ASSERT_FALSE(beta_cvm.empty());
  std::vector<std::string> before;
  ASSERT_TRUE(b.ListCvms(&before).ok());
  EXPECT_THAT(before, ::testing::Not(::testing::Contains(beta_cvm)));
  EXPECT_EQ(b.GetCvm(beta_cvm).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::AdoptResourceRequest adopt;
  adopt.set_cvm_id(beta_cvm);
  adopt.set_tenant("beta");
  v1::AdoptResourceResponse adopted;
  ASSERT_TRUE(stub_->AdoptResource(admin.Context().get(), adopt, &adopted).ok());

  for (const char* who : {"a", "a-view"}) {
    As x = Client(who);
    std::vector<std::string> ids;
    ASSERT_TRUE(x.ListCvms(&ids).ok()) << who;
    EXPECT_THAT(ids, ::testing::Contains(alpha_cvm)) << who;
    EXPECT_THAT(ids, ::testing::Not(::testing::Contains(beta_cvm))) << who;
    v1::Cvm cvm;
    EXPECT_TRUE(x.GetCvm(alpha_cvm, &cvm).ok()) << who;
    EXPECT_EQ(cvm.id(), alpha_cvm);
    // Beta's CVM reads exactly as one that does not exist.
    grpc::Status other = x.GetCvm(beta_cvm);
    grpc::Status none = x.GetCvm("no-such-cvm-1");
    EXPECT_EQ(other.error_code(), grpc::StatusCode::NOT_FOUND) << who;
    EXPECT_EQ(none.error_code(), grpc::StatusCode::NOT_FOUND) << who;
    EXPECT_EQ(absl::StrReplaceAll(other.error_message(), {{beta_cvm, "ID"}}),
              absl::StrReplaceAll(none.error_message(), {{"no-such-cvm-1", "ID"}}));
    EXPECT_TRUE(x.ListNodes().ok()) << who;
  }
  std::vector<std::string> beta_ids;
  ASSERT_TRUE(b.ListCvms(&beta_ids).ok());
  EXPECT_THAT(beta_ids, ::testing::Contains(beta_cvm));
  EXPECT_THAT(beta_ids, ::testing::Not(::testing::Contains(alpha_cvm)));
  for (const char* who : {"admin", "audit"}) {
    As x = Client(who);
    std::vector<std::string> ids;
    ASSERT_TRUE(x.ListCvms(&ids).ok()) << who;
    EXPECT_THAT(ids, ::testing::IsSupersetOf({alpha_cvm, beta_cvm})) << who;
    EXPECT_TRUE(x.GetCvm(beta_cvm).ok()) << who;
  }
  As s = Client("stranger");
  std::vector<std::string> ids;
  for (const grpc::Status& st : {s.GetCvm(alpha_cvm), s.ListCvms(&ids), s.ListNodes()}) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  }
}

TEST_F(TenancyE2eTest, AnIdentityWithNoRoleIsRefusedEveryCall) {
  const std::string id = AlphaDeploy().id();
  As s = Client("stranger");
  std::vector<std::string> ids;
  v1::ListKmsInstancesResponse kms;
  for (const grpc::Status& st :
       {s.Get(id), s.Watch(id), s.Cancel(id), s.Supply(id), s.SubmitOwnerTx(id), s.List(&ids), s.ListKms(&kms),
        s.Deploy(stack_->DeployRequest("s-1", "s")), s.UpdateEnv("cvm-x"), s.UpdateCompose("cvm-x"),
        s.UpdateComposeFile("cvm-x"), s.AddHash(31337, kBetaKey, anvil::kDeployerAddress), s.UpdateApp("cvm-x"),
        s.AppState("cvm-x")}) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr("token:stranger has no role"));
  }
}

// Ownership (h-owner): beta can neither update alpha's CVM nor register a compose hash on its
// app; the refusal is the one an unknown CVM or app gets, and nothing is journaled.
TEST_F(TenancyE2eTest, AnotherTenantCannotUpdateAlphasCvmOrRegisterHashesOnItsApp) {
  const v1::Operation& op = AlphaDeploy();
  const std::string cvm = op.deploy().cvm_id();
  const std::string app = op.deploy().app_id();
  ASSERT_FALSE(cvm.empty());
  ASSERT_FALSE(app.empty());
  const std::string no_cvm = std::string(cvm.size(), 'f');
  const std::string no_app = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";  // anvil account #2: no app
  As b = Client("b");
  std::vector<std::string> before;
  ASSERT_TRUE(b.List(&before).ok());
  auto same = [&](const char* rpc, const grpc::Status& on_alpha, const grpc::Status& on_none, const std::string& id,
                  const std::string& none) {
    EXPECT_EQ(on_alpha.error_code(), grpc::StatusCode::NOT_FOUND) << rpc << ": " << on_alpha.error_message();
    EXPECT_EQ(on_none.error_code(), grpc::StatusCode::NOT_FOUND) << rpc << ": " << on_none.error_message();
    EXPECT_EQ(absl::StrReplaceAll(on_alpha.error_message(), {{id, none}}), on_none.error_message()) << rpc;
  };
  same("UpdateEnvVars", b.UpdateEnv(cvm), b.UpdateEnv(no_cvm), cvm, no_cvm);
  same("UpdateDockerCompose", b.UpdateCompose(cvm), b.UpdateCompose(no_cvm), cvm, no_cvm);
  same("UpdateComposeFile", b.UpdateComposeFile(cvm), b.UpdateComposeFile(no_cvm), cvm, no_cvm);
  same("AddComposeHash(cvm_id)", b.AddHashOnCvm(cvm), b.AddHashOnCvm(no_cvm), cvm, no_cvm);
  same("AddComposeHash(app)", b.AddHash(31337, app, kBetaKey), b.AddHash(31337, no_app, kBetaKey), app, no_app);
  same("UpdateAppContract", b.UpdateApp(cvm), b.UpdateApp(no_cvm), cvm, no_cvm);
  same("GetAppState", b.AppState(cvm), b.AppState(no_cvm), cvm, no_cvm);
  std::vector<std::string> after;
  ASSERT_TRUE(b.List(&after).ok());
  EXPECT_EQ(after, before) << "nothing journaled for beta";
  // Alpha's viewer cannot either (read-only), alpha and the admin can.
  As v = Client("a-view");
  EXPECT_EQ(v.UpdateCompose(cvm).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(v.AddHash(31337, app, anvil::kDeployerAddress).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(v.UpdateApp(cvm).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status viewed = v.AppState(cvm);
  EXPECT_TRUE(viewed.ok()) << "GetAppState is read-only: " << viewed.error_message();
  As a = Client("a");
  grpc::Status s = a.AddHashOnCvm(cvm);
  EXPECT_TRUE(s.ok()) << s.error_message();
  s = Client("admin").AddHash(31337, app, anvil::kDeployerAddress);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(TenancyE2eTest, NoTenantSignsWithAKeyItIsNotGranted) {
  As b = Client("b");
  v1::ListKmsInstancesResponse kms;
  ASSERT_TRUE(b.ListKms(&kms).ok());
  std::string kms_id;
  for (const v1::KmsInstance& k : kms.kms_instances()) {
    if (k.chain_id() == 31337) kms_id = k.id();
  }
  ASSERT_FALSE(kms_id.empty());
  const absl::StatusOr<int> deployed_before = stack_->CountAppDeployed();
  ASSERT_TRUE(deployed_before.ok());

  // Known chain (the KMS named): refused at submit, nothing journaled.
  v1::DeployCvmRequest r = stack_->DeployRequest("beta-steal-1", "steal");
  r.set_kms_id(kms_id);
  r.set_signer_key_address(anvil::kDeployerAddress);
  grpc::Status s = b.Deploy(r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("not granted to tenant beta (access.tenants[1].signer_keys)"));
  // No key named: the default key (alpha's grant) is not beta's either.
  r.set_request_id("beta-steal-2");
  r.clear_signer_key_address();
  EXPECT_EQ(b.Deploy(r).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  s = b.AddHash(31337, kBetaKey, anvil::kDeployerAddress);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();

  // Chain learned at run time (any KMS of the type): the operation fails before signing.
  v1::DeployCvmRequest late = stack_->DeployRequest("beta-steal-3", "steal-late");
  late.set_signer_key_address(anvil::kDeployerAddress);
  v1::Operation op;
  ASSERT_TRUE(b.Deploy(late, &op).ok());
  v1::Operation done = b.WaitDone(op.id());
  EXPECT_EQ(done.state(), v1::OPERATION_STATE_FAILED) << done.DebugString();
  EXPECT_EQ(done.error().code(), static_cast<int>(grpc::StatusCode::PERMISSION_DENIED)) << done.DebugString();
  EXPECT_THAT(done.error().message(), HasSubstr("access.tenants[1].signer_keys"));
  // Nothing reached the chain for any of them.
  absl::StatusOr<int> deployed_after = stack_->CountAppDeployed();
  ASSERT_TRUE(deployed_after.ok());
  EXPECT_EQ(*deployed_after, *deployed_before);
  EXPECT_THAT(ReadTextFile(stack_->dir() + "/signer-audit.jsonl"), ::testing::Not(HasSubstr(op.id())))
      << "the signer never saw a request of the refused operation";
}

TEST_F(TenancyE2eTest, SupplyEnvVarsIsRateLimitedPerOperation) {
  const std::string id = AlphaDeploy().id();
  As a = Client("a");
  // Five calls a minute per operation are answered (this one is finished: not waiting).
  for (int i = 0; i < 5; ++i) {
    grpc::Status s = a.Supply(id, absl::StrCat("rl-", i));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << i << ": " << s.error_message();
  }
  grpc::Status s = a.Supply(id, "rl-5");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("per operation"));
}

}  // namespace
}  // namespace orchestrator::e2e
