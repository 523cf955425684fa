// The ownership checks of the gRPC service (ownership_guard.h) through a real in-process gRPC
// server over the real OperationManager and SqliteJournal, with the real AccessPolicy: for every
// request that changes a CVM or app, a member of the owning tenant and an admin are served, and
// another tenant's member, a resource nobody owns, viewers, auditors and unknown identities are
// refused with nothing journaled; the NOT_FOUND for another tenant's resource is byte-equal to
// the one for a resource nobody owns. AdoptResource: admin only, moves ownership, logged.
#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "orchestrator/access/access_policy.h"
#include "orchestrator/engine/manager.h"
#include "orchestrator/journal/sqlite_journal.h"
#include "orchestrator/service/orchestrator_service_impl.h"
#include "orchestrator/service/ownership_guard.h"

namespace orchestrator::service {
namespace {

using ::testing::HasSubstr;

constexpr char kAccess[] = R"pb(
  access {
    admins: "token:admin"
    auditors: "token:audit"
    tenants {
      name: "team-a"
      members: "token:alice"
      viewers: "token:val"
      signer_keys { address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" }
    }
    tenants {
      name: "team-b"
      members: "token:bob"
      signer_keys { address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" }
    }
  }
)pb";
constexpr uint64_t kChain = 31337;
constexpr char kAppA[] = "0x00000000000000000000000000000000000000aa";
constexpr char kAppUnowned[] = "0x00000000000000000000000000000000000000cc";
// team-a's CVM as the journal keeps it (a deploy recorded it), and as a request may spell it.
constexpr char kCvmA[] = "0123456789abcdef0123456789abcdef";
constexpr char kCvmASpelled[] = "01234567-89AB-CDEF-0123-456789ABCDEF";
constexpr char kCvmUnowned[] = "fedcba9876543210fedcba9876543210";
constexpr char kHash[] = "0x1111111111111111111111111111111111111111111111111111111111111111";

// The caller is the "x-test-caller" metadata ("token:<name>") as a bearer token (the transport's own tests
// cover how a real token becomes one).
class MetadataAuthenticator final : public platform::Authenticator {
 public:
  absl::StatusOr<platform::Caller> Authenticate(const grpc::CallbackServerContext& context) const override {
    auto it = context.client_metadata().find("x-test-caller");
    if (it == context.client_metadata().end()) return absl::UnauthenticatedError("no caller");
    absl::string_view key(it->second.data(), it->second.size());
    absl::ConsumePrefix(&key, "token:");
    return platform::Caller(platform::Caller::BearerToken{std::string(key), ""});
  }
};

// Every operation succeeds at once: these tests are about what gets in.
class DoneFlow final : public engine::Flow {
 public:
  std::vector<std::string> InitialSteps(const engine::state::FlowState&) const override { return {}; }
  absl::Status Run(engine::OpContext&) override { return absl::OkStatus(); }
};

class OwnershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = absl::StrCat(::testing::TempDir(), "/ownershipXXXXXX");
    dir_ = ::mkdtemp(tmpl.data());
    journal_ = *journal::SqliteJournal::Open(dir_ + "/j.sqlite");
    v1::OrchestratorConfig config;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(kAccess, &config));
    absl::StatusOr<access::AccessPolicy> policy = access::AccessPolicy::Compile(config, std::nullopt);
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = std::make_unique<access::AccessPolicy>(*std::move(policy));
    guard_ = std::make_unique<OwnershipGuard>(*journal_, *policy_);
    deps_.journal = journal_.get();
    engine::FlowRegistry flows;
    for (v1::OperationKind k : {v1::OPERATION_KIND_UPDATE_ENV_VARS, v1::OPERATION_KIND_UPDATE_DOCKER_COMPOSE,
                                v1::OPERATION_KIND_UPDATE_COMPOSE_FILE, v1::OPERATION_KIND_ADD_COMPOSE_HASH,
                                v1::OPERATION_KIND_UPDATE_APP_CONTRACT}) {
      flows[k] = std::make_unique<DoneFlow>();
    }
    engine::ManagerOptions mo;
    mo.workers = 2;
    manager_ = std::make_unique<engine::OperationManager>(*journal_, deps_, std::move(flows), mo);
    ASSERT_TRUE(manager_->Start().ok());
    cloudapi::CloudClientOptions co;
    co.base_url = "http://127.0.0.1:9";
    co.api_key = *cloudapi::ApiKey::FromString("phak_test_key_not_used");
    cloud_ = *cloudapi::CloudClient::Create(std::move(co));
    kms_ = std::make_unique<KmsDirectory>(*cloud_, absl::Minutes(1));
    ServiceOptions so;
    so.chains[kChain] = v1::KMS_TYPE_ETHEREUM;
    so.default_signer_key = *chain::Address::Parse("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    so.policy = policy_.get();
    so.ownership = guard_.get();
    service_ = std::make_unique<OrchestratorServiceImpl>(*manager_, *kms_, auth_, so);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    stub_ = v1::Orchestrator::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
    // What team-a's deploy recorded.
    const absl::Time t = absl::FromUnixSeconds(1700000000);
    ASSERT_TRUE(journal_->RecordOwner({journal::kResourceCvm, kCvmA, "team-a", "deploy:op_1", t}).ok());
    ASSERT_TRUE(
        journal_->RecordOwner({journal::kResourceApp, absl::StrCat(kChain, ":", kAppA), "team-a", "deploy:op_1", t})
            .ok());
  }

  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now());
    manager_->Shutdown(absl::Seconds(5));
    (void)::system(absl::StrCat("rm -rf '", dir_, "'").c_str());
  }

  // Calls `method` as `caller`; the status.
  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (v1::Orchestrator::Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const std::string& caller, const Request& request, Response* response) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-test-caller", caller);
    return ((*stub_).*method)(&ctx, request, response);
  }

  // Each request kind that changes the CVM `cvm_id`, as `caller`.
  std::vector<grpc::Status> UpdateCvm(const std::string& caller, const std::string& cvm_id) {
    const std::string rid = absl::StrCat("r", ++requests_, "-");
    v1::Operation op;
    v1::UpdateEnvVarsRequest env;
    env.set_request_id(rid + "env");
    env.set_cvm_id(cvm_id);
    v1::EnvVar* e = env.add_env_vars();
    e->set_key("K");
    e->set_value("v");
    v1::UpdateDockerComposeRequest dc;
    dc.set_request_id(rid + "dc");
    dc.set_cvm_id(cvm_id);
    dc.set_docker_compose_file("services: {}\n");
    v1::UpdateComposeFileRequest cf;
    cf.set_request_id(rid + "cf");
    cf.set_cvm_id(cvm_id);
    cf.mutable_compose()->set_name("n");
    v1::AddComposeHashRequest ah;
    ah.set_request_id(rid + "ah");
    ah.set_cvm_id(cvm_id);
    ah.set_compose_hash(kHash);
    v1::UpdateAppContractRequest ac;
    ac.set_request_id(rid + "ac");
    ac.set_cvm_id(cvm_id);
    ac.mutable_set_allow_any_device()->set_allow_any_device(true);
    return {Call(&v1::Orchestrator::Stub::UpdateEnvVars, caller, env, &op),
            Call(&v1::Orchestrator::Stub::UpdateDockerCompose, caller, dc, &op),
            Call(&v1::Orchestrator::Stub::UpdateComposeFile, caller, cf, &op),
            Call(&v1::Orchestrator::Stub::AddComposeHash, caller, ah, &op),
            Call(&v1::Orchestrator::Stub::UpdateAppContract, caller, ac, &op)};
  }

  grpc::Status AddHashOnApp(const std::string& caller, const std::string& app) {
    v1::AddComposeHashRequest r;
    r.set_request_id(absl::StrCat("h", ++requests_));
    r.mutable_app()->set_chain_id(kChain);
    r.mutable_app()->set_app_contract_address(app);
    r.set_compose_hash(kHash);
    v1::Operation op;
    return Call(&v1::Orchestrator::Stub::AddComposeHash, caller, r, &op);
  }

  size_t Journaled() { return journal_->List(journal::ListQuery{})->size(); }

  std::string dir_;
  std::unique_ptr<journal::SqliteJournal> journal_;
  std::unique_ptr<access::AccessPolicy> policy_;
  std::unique_ptr<OwnershipGuard> guard_;
  engine::FlowDeps deps_;
  std::unique_ptr<engine::OperationManager> manager_;
  std::unique_ptr<cloudapi::CloudClient> cloud_;
  std::unique_ptr<KmsDirectory> kms_;
  MetadataAuthenticator auth_;
  std::unique_ptr<OrchestratorServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Orchestrator::Stub> stub_;
  int requests_ = 0;
};

std::string NotInScope(const std::string& cvm_id) {
  return absl::StrCat("cvm_id: no CVM ", cvm_id, " in your scope (an admin can adopt it)");
}

TEST_F(OwnershipTest, AMemberChangesItsTenantsCvmInAnySpelling) {
  for (const std::string& id : {std::string(kCvmA), std::string(kCvmASpelled)}) {
    for (const grpc::Status& s : UpdateCvm("token:alice", id)) EXPECT_TRUE(s.ok()) << id << ": " << s.error_message();
  }
  EXPECT_EQ(Journaled(), 10u);
  // The operation carries its tenant for what its flow records and checks (flows/ownership.h).
  engine::state::FlowState st;
  ASSERT_TRUE(st.ParseFromString(journal_->List(journal::ListQuery{})->front().internal));
  EXPECT_EQ(st.tenant(), "team-a");
  EXPECT_FALSE(st.tenant_admin());
}

TEST_F(OwnershipTest, AnotherTenantsCvmAndAnUnownedOneGetTheSameNotFoundAndNothingIsJournaled) {
  for (const auto& [caller, cvm] : std::vector<std::pair<std::string, std::string>>{
           {"token:bob", kCvmA}, {"token:bob", kCvmUnowned}, {"token:alice", kCvmUnowned}}) {
    for (const grpc::Status& s : UpdateCvm(caller, cvm)) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << caller << " " << cvm;
      EXPECT_EQ(s.error_message(), NotInScope(cvm)) << caller;
    }
  }
  // Byte-equal whether the CVM is another tenant's or nobody's (the id aside).
  std::vector<grpc::Status> other = UpdateCvm("token:bob", kCvmA);
  std::vector<grpc::Status> none = UpdateCvm("token:bob", kCvmUnowned);
  for (size_t i = 0; i < other.size(); ++i) {
    EXPECT_EQ(other[i].error_message().replace(other[i].error_message().find(kCvmA), 32, "X"),
              std::string(none[i].error_message()).replace(none[i].error_message().find(kCvmUnowned), 32, "X"));
  }
  EXPECT_EQ(Journaled(), 0u);
}

TEST_F(OwnershipTest, AddComposeHashOnAnAppContractIsForItsTenantOnly) {
  EXPECT_TRUE(AddHashOnApp("token:alice", kAppA).ok());
  // Any spelling of the address is the same app.
  EXPECT_TRUE(AddHashOnApp("token:alice", "0x00000000000000000000000000000000000000AA").ok());
  const grpc::Status other = AddHashOnApp("token:bob", kAppA);
  const grpc::Status unowned = AddHashOnApp("token:bob", kAppUnowned);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(unowned.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(other.error_message(), HasSubstr("in your scope (an admin can adopt it)"));
  EXPECT_EQ(other.error_message().substr(0, 11), unowned.error_message().substr(0, 11));
  EXPECT_EQ(other.error_message().size(), unowned.error_message().size());
  EXPECT_TRUE(AddHashOnApp("token:admin", kAppUnowned).ok()) << "admins act on everything";
  EXPECT_EQ(Journaled(), 3u);
}

TEST_F(OwnershipTest, AdminsActOnEveryCvmViewersAuditorsAndStrangersOnNone) {
  for (const grpc::Status& s : UpdateCvm("token:admin", kCvmA)) EXPECT_TRUE(s.ok()) << s.error_message();
  for (const grpc::Status& s : UpdateCvm("token:admin", kCvmUnowned)) EXPECT_TRUE(s.ok()) << s.error_message();
  engine::state::FlowState st;
  ASSERT_TRUE(st.ParseFromString(journal_->List(journal::ListQuery{})->front().internal));
  EXPECT_TRUE(st.tenant_admin());
  const size_t before = Journaled();
  for (const std::string& caller : {"token:val", "token:audit", "token:eve"}) {
    for (const grpc::Status& s : UpdateCvm(caller, kCvmA)) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << caller << ": " << s.error_message();
      EXPECT_THAT(s.error_message(), HasSubstr(caller));
    }
    EXPECT_EQ(AddHashOnApp(caller, kAppA).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(Journaled(), before);
}

// GetAppState is read-only: the tenant's viewers may call it (here it gets past the scope check
// to the chain, which this test has none of), another tenant's callers get the NOT_FOUND of an
// update, identities named nowhere PERMISSION_DENIED.
TEST_F(OwnershipTest, GetAppStateIsScopedButOpenToViewers) {
  auto get = [&](const std::string& caller, const std::string& cvm) {
    v1::GetAppStateRequest r;
    r.set_cvm_id(cvm);
    v1::AppState s;
    return Call(&v1::Orchestrator::Stub::GetAppState, caller, r, &s);
  };
  for (const std::string& caller : {"token:alice", "token:val", "token:audit", "token:admin"}) {
    EXPECT_EQ(get(caller, kCvmA).error_code(), grpc::StatusCode::UNAVAILABLE) << caller;
  }
  const grpc::Status other = get("token:bob", kCvmA);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(other.error_message(), NotInScope(kCvmA));
  EXPECT_EQ(get("token:eve", kCvmA).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::GetAppStateRequest bad;
  bad.set_cvm_id(kCvmA);
  bad.add_device_ids("nope");
  v1::AppState s;
  const grpc::Status invalid = Call(&v1::Orchestrator::Stub::GetAppState, "token:val", bad, &s);
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(invalid.error_message(), HasSubstr("device_ids[0]"));
}

TEST_F(OwnershipTest, AnAdminAdoptsAndMovesResources) {
  v1::AdoptResourceRequest r;
  r.set_cvm_id(kCvmASpelled);
  r.set_tenant("team-b");
  v1::AdoptResourceResponse resp;
  // Only admins.
  for (const std::string& caller : {"token:alice", "token:bob", "token:val", "token:audit", "token:eve"}) {
    const grpc::Status s = Call(&v1::Orchestrator::Stub::AdoptResource, caller, r, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << caller;
  }
  grpc::Status s = Call(&v1::Orchestrator::Stub::AdoptResource, "token:admin", r, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.kind(), "cvm");
  EXPECT_EQ(resp.resource(), kCvmA);
  EXPECT_EQ(resp.owner().tenant(), "team-b");
  EXPECT_EQ(resp.owner().source(), "adopt:token:admin");
  ASSERT_TRUE(resp.has_previous_owner());
  EXPECT_EQ(resp.previous_owner().tenant(), "team-a");
  EXPECT_EQ(resp.previous_owner().source(), "deploy:op_1");
  EXPECT_EQ(resp.previous_owner().create_time().seconds(), 1700000000);
  for (const grpc::Status& u : UpdateCvm("token:bob", kCvmA)) EXPECT_TRUE(u.ok()) << u.error_message();
  for (const grpc::Status& u : UpdateCvm("token:alice", kCvmA)) {
    EXPECT_EQ(u.error_code(), grpc::StatusCode::NOT_FOUND);
  }
  // An app nobody owned, adopted; a PHALA app id.
  v1::AdoptResourceRequest app;
  app.mutable_app()->set_chain_id(kChain);
  app.mutable_app()->set_app_contract_address(kAppUnowned);
  app.set_tenant("team-b");
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::AdoptResource, "token:admin", app, &resp).ok());
  EXPECT_EQ(resp.resource(), absl::StrCat(kChain, ":", kAppUnowned));
  EXPECT_FALSE(resp.has_previous_owner());
  EXPECT_TRUE(AddHashOnApp("token:bob", kAppUnowned).ok());
  v1::AdoptResourceRequest phala;
  phala.set_phala_app_id("ABCDEF0123456789ABCDEF0123456789ABCDEF01");
  phala.set_tenant("team-a");
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::AdoptResource, "token:admin", phala, &resp).ok());
  EXPECT_EQ(resp.kind(), "app");
  EXPECT_EQ(resp.resource(), "abcdef0123456789abcdef0123456789abcdef01");
}

TEST_F(OwnershipTest, AdoptRefusesUnknownTenantsAndMissingResourcesNamingTheField) {
  v1::AdoptResourceResponse resp;
  v1::AdoptResourceRequest r;
  r.set_cvm_id(kCvmUnowned);
  r.set_tenant("team-z");
  grpc::Status s = Call(&v1::Orchestrator::Stub::AdoptResource, "token:admin", r, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("tenant: 'team-z' is not a tenant"));
  r.set_tenant("");
  EXPECT_EQ(Call(&v1::Orchestrator::Stub::AdoptResource, "token:admin", r, &resp).error_message(), "tenant: required");
  v1::AdoptResourceRequest none;
  none.set_tenant("team-a");
  s = Call(&v1::Orchestrator::Stub::AdoptResource, "token:admin", none, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("resource: required"));
  v1::AdoptResourceRequest bad;
  bad.mutable_app()->set_chain_id(kChain);
  bad.mutable_app()->set_app_contract_address("0x12");
  bad.set_tenant("team-a");
  s = Call(&v1::Orchestrator::Stub::AdoptResource, "token:admin", bad, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("app.app_contract_address"));
  EXPECT_FALSE(journal_->FindOwner(journal::kResourceCvm, kCvmUnowned).value().has_value()) << "nothing written";
}

}  // namespace
}  // namespace orchestrator::service
