// Apps owned by someone else (issue 15): a CVM deployed with app_owner_address = anvil key #1,
// which the signer does not hold. Its updates wait in WAITING_FOR_OWNER with the exact
// transaction the owner must send, and complete by themselves once the owner sent it (cast send
// from key #1), or at once on SubmitOwnerTransaction; a device addition (UpdateAppContract) waits
// the same way; a kill -9 while waiting loses nothing and sends nothing twice.
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/e2e/oracle_verdict.h"
#include "orchestrator/e2e/stack.h"
#include "orchestrator/e2e/stack_test.h"

namespace orchestrator::e2e {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

// Anvil's account #1: "someone else", not a key of the signer.
constexpr char kOwner[] = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
constexpr char kOwnerKey[] = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
// Anvil's account #2: neither the owner nor the signer.
constexpr char kStranger[] = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }

class OwnerE2eTest : public StackTest<> {
 protected:
  static void SetUpTestSuite() {
    StartStack();
    if (stack_ == nullptr) return;
    // One CVM whose app the owner (key #1) owns; the factory is permissionless, so the signer's
    // key #0 sends the deploy.
    v1::DeployCvmRequest r = stack_->DeployRequest("owner-deploy", "e2e-owned-app");
    r.set_app_owner_address(kOwner);
    absl::StatusOr<v1::Operation> op = stack_->Deploy(r);
    ASSERT_TRUE(op.ok()) << op.status();
    absl::StatusOr<v1::Operation> done = stack_->WaitFor(op->id());
    ASSERT_TRUE(done.ok()) << done.status();
    ASSERT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
    deploy_ = new v1::Operation(*done);
  }

  static const std::string& cvm() { return deploy_->deploy().cvm_id(); }
  static const std::string& app() { return deploy_->deploy().app_id(); }
  static std::string rpc() { return stack_->anvil().chain().rpc_url; }

  template <typename Request>
  static grpc::Status Call(grpc::Status (v1::Orchestrator::Stub::*m)(grpc::ClientContext*, const Request&,
                                                                     v1::Operation*),
                           const Request& r, v1::Operation* op) {
    grpc::ClientContext ctx;
    return (stack_->stub().*m)(&ctx, r, op);
  }

  static grpc::Status Submit(const std::string& rid, const std::string& op_id, const std::string& tx,
                             v1::Operation* out) {
    v1::SubmitOwnerTransactionRequest r;
    r.set_request_id(rid);
    r.set_operation_id(op_id);
    r.set_transaction_hash(tx);
    return Call(&v1::Orchestrator::Stub::SubmitOwnerTransaction, r, out);
  }

  // Waits for WAITING_FOR_OWNER and checks the action against cast's encoding of the call
  // (`want_hash` empty: the hash the action names, which the API computed).
  static v1::Operation WaitingForOwner(const std::string& id, const std::string& want_hash = "") {
    absl::StatusOr<v1::Operation> w = stack_->WaitFor(id, absl::Seconds(40), v1::OPERATION_STATE_WAITING_FOR_OWNER);
    EXPECT_TRUE(w.ok()) << w.status();
    if (!w.ok()) return {};
    EXPECT_EQ(w->state(), v1::OPERATION_STATE_WAITING_FOR_OWNER) << w->DebugString();
    const v1::OwnerAction& a = w->owner_action();
    const std::string hash = want_hash.empty() ? a.compose_hash() : want_hash;
    EXPECT_EQ(a.chain_id(), 31337u);
    EXPECT_EQ(a.to(), app());
    EXPECT_EQ(a.owner_address(), kOwner);
    EXPECT_EQ(a.function_signature(), "addComposeHash(bytes32)");
    EXPECT_EQ(a.compose_hash(), hash);
    absl::StatusOr<std::string> want = anvil::RunCast({"calldata", "addComposeHash(bytes32)", hash});
    EXPECT_TRUE(want.ok()) << want.status();
    EXPECT_EQ(a.data(), want.value_or("?"));
    EXPECT_GT(a.watch_from_block(), 0u);
    EXPECT_THAT(a.reason(), HasSubstr("not a key of the signer"));
    for (const v1::Step& s : w->steps()) {
      if (s.name() == "register_compose_hash") EXPECT_EQ(s.state(), v1::STEP_STATE_RUNNING);
    }
    return *w;
  }

  // The owner executes the action with cast from key #1; the transaction hash.
  static std::string OwnerSends(const v1::OwnerAction& a) {
    absl::StatusOr<std::string> out =
        anvil::RunCast({"send", a.to(), a.data(), "--private-key", kOwnerKey, "--rpc-url", rpc(), "--json"});
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok()) return "";
    json::value v = json::parse(*out);
    EXPECT_EQ(v.as_object().at("status").as_string(), "0x1");
    return Lower(std::string(v.as_object().at("transactionHash").as_string()));
  }

  static uint64_t SignerNonce() {
    absl::StatusOr<std::string> n = anvil::RunCast({"nonce", stack_->signer_address(), "--rpc-url", rpc()});
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? std::stoull(*n) : 0;
  }

  static std::string SimComposeHash() {
    absl::StatusOr<json::object> c = stack_->SimCvm(cvm());
    if (!c.ok()) return "";
    const json::object* o = &*c;
    if (!o->contains("compose_hash") && o->contains("cvm") && o->at("cvm").is_object()) o = &o->at("cvm").as_object();
    if (!o->contains("compose_hash") || !o->at("compose_hash").is_string()) return "";
    return "0x" + std::string(o->at("compose_hash").as_string());
  }

  static v1::UpdateDockerComposeRequest ComposeUpdate(const std::string& rid, const std::string& image) {
    v1::UpdateDockerComposeRequest r;
    r.set_request_id(rid);
    r.set_cvm_id(cvm());
    r.set_docker_compose_file(absl::StrCat("services:\n  app:\n    image: ", image, "\n"));
    return r;
  }

  inline static v1::Operation* deploy_ = nullptr;
};

TEST_F(OwnerE2eTest, DeployedWithAnExternalOwnerWhichTheContractNames) {
  absl::StatusOr<std::string> owner = anvil::RunCast({"call", app(), "owner()(address)", "--rpc-url", rpc()});
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_EQ(*owner, kOwner);
  // The deploy went through the permissionless factory from the signer's key #0.
  EXPECT_EQ(Lower(deploy_->deploy().deployer_address()), Lower(stack_->signer_address()));
  absl::StatusOr<std::string> from =
      anvil::RunCast({"tx", deploy_->deploy().deploy_transaction_hash(), "from", "--rpc-url", rpc()});
  ASSERT_TRUE(from.ok()) << from.status();
  EXPECT_EQ(Lower(*from), Lower(stack_->signer_address()));
}

TEST_F(OwnerE2eTest, ComposeUpdatesWaitForTheOwnerAndCompleteOnItsTransaction) {
  const uint64_t nonce = SignerNonce();
  v1::Operation op;
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::UpdateDockerCompose, ComposeUpdate("own-dc", "nginx:1.27"), &op).ok());
  const v1::Operation w = WaitingForOwner(op.id());
  const std::string hash = w.owner_action().compose_hash();
  ASSERT_EQ(hash.size(), 66u);
  EXPECT_EQ(w.update().compose_hash(), hash);
  EXPECT_EQ(*stack_->CountComposeHashAdded(app(), hash), 0);
  // Still waiting a while later: nothing is signed for an owner the signer does not hold.
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(stack_->Get(op.id())->state(), v1::OPERATION_STATE_WAITING_FOR_OWNER);

  const std::string tx = OwnerSends(w.owner_action());
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id(), absl::Seconds(60));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  EXPECT_TRUE(done->update().registered_by_owner());
  EXPECT_EQ(done->update().register_transaction_hash(), tx);
  EXPECT_FALSE(done->has_owner_action());
  EXPECT_EQ(SimComposeHash(), hash);
  EXPECT_EQ(*stack_->CountComposeHashAdded(app(), hash), 1);
  EXPECT_EQ(SignerNonce(), nonce) << "the signer's key sent a transaction";
  ExpectIndependentVerdict(*stack_, cvm(), hash,
                           {{"API_TOKEN", "s3cr3t-value-for-owner-deploy"}, {"MODE", "production"}}, app());

  // The compose-file API waits the same way.
  v1::UpdateComposeFileRequest cf;
  cf.set_request_id("own-cf");
  cf.set_cvm_id(cvm());
  cf.mutable_update_mask()->add_paths("public_logs");
  cf.mutable_compose()->set_public_logs(false);
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::UpdateComposeFile, cf, &op).ok());
  const v1::Operation cfw = WaitingForOwner(op.id());
  EXPECT_EQ(cfw.update().compose_hash(), cfw.owner_action().compose_hash());
  const std::string cf_tx = OwnerSends(cfw.owner_action());
  done = stack_->WaitFor(op.id(), absl::Seconds(60));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  EXPECT_TRUE(done->update().registered_by_owner());
  EXPECT_EQ(done->update().register_transaction_hash(), cf_tx);
  EXPECT_EQ(SimComposeHash(), cfw.owner_action().compose_hash());
  EXPECT_EQ(SignerNonce(), nonce);
}

TEST_F(OwnerE2eTest, DeviceAdditionWaitsForTheOwnerAndCompletesOnItsTransaction) {
  const std::string device = "0x" + std::string(60, 'e') + "d001";
  const uint64_t nonce = SignerNonce();
  v1::UpdateAppContractRequest r;
  r.set_request_id("own-dev-add");
  r.set_cvm_id(cvm());
  r.mutable_add_device()->set_device_id(device);
  v1::Operation op;
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::UpdateAppContract, r, &op).ok());
  absl::StatusOr<v1::Operation> w = stack_->WaitFor(op.id(), absl::Seconds(40), v1::OPERATION_STATE_WAITING_FOR_OWNER);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->state(), v1::OPERATION_STATE_WAITING_FOR_OWNER) << w->DebugString();
  const v1::OwnerAction& a = w->owner_action();
  absl::StatusOr<std::string> want = anvil::RunCast({"calldata", "addDevice(bytes32)", device});
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_EQ(a.data(), *want);
  EXPECT_EQ(Lower(a.to()), Lower(app()));
  EXPECT_EQ(a.owner_address(), kOwner);
  EXPECT_EQ(a.chain_id(), 31337u);
  EXPECT_EQ(a.function_signature(), "addDevice(bytes32)");
  EXPECT_EQ(a.device_id(), device);
  EXPECT_THAT(a.reason(), HasSubstr("not a key of the signer"));
  EXPECT_EQ(SignerNonce(), nonce) << "the signer's key sent a transaction";

  const std::string tx = OwnerSends(a);
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id(), absl::Seconds(60));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  EXPECT_TRUE(done->app_contract_change().sent_by_owner());
  EXPECT_EQ(Lower(done->app_contract_change().transaction_hash()), tx);
  EXPECT_FALSE(done->has_owner_action());
  absl::StatusOr<std::string> allowed =
      anvil::RunCast({"call", app(), "allowedDeviceIds(bytes32)(bool)", device, "--rpc-url", rpc()});
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_EQ(*allowed, "true");
  EXPECT_EQ(SignerNonce(), nonce) << "the signer's key sent a transaction";
}

TEST_F(OwnerE2eTest, SubmitOwnerTransactionChecksTheTransactionAndCompletesAtOnce) {
  const std::string hash = "0x" + std::string(64, 'c');
  // An old transaction: the owner registered the hash (and removed it again) before the wait began.
  v1::OwnerAction old_add;
  old_add.set_to(app());
  old_add.set_data(anvil::RunCast({"calldata", "addComposeHash(bytes32)", hash}).value_or("?"));
  const std::string old_tx = OwnerSends(old_add);
  v1::OwnerAction old_remove = old_add;
  old_remove.set_data(anvil::RunCast({"calldata", "removeComposeHash(bytes32)", hash}).value_or("?"));
  OwnerSends(old_remove);
  v1::AddComposeHashRequest r;
  r.set_request_id("own-add");
  r.set_cvm_id(cvm());
  r.set_compose_hash(hash);
  v1::Operation op;
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::AddComposeHash, r, &op).ok());
  const v1::Operation w = WaitingForOwner(op.id(), hash);
  const v1::OwnerAction& a = w.owner_action();
  v1::Operation out;

  grpc::Status s = Submit("sub-bad", op.id(), "0x1234", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  s = Submit("sub-none", op.id(), "0x" + std::string(64, '1'), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("no transaction"));

  s = Submit("sub-old", op.id(), old_tx, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("older than the wait"));

  // The owner's transaction with other calldata (another hash): not the action.
  absl::StatusOr<std::string> other_data =
      anvil::RunCast({"calldata", "addComposeHash(bytes32)", "0x" + std::string(64, 'd')});
  ASSERT_TRUE(other_data.ok());
  v1::OwnerAction other = a;
  other.set_data(*other_data);
  s = Submit("sub-other", op.id(), OwnerSends(other), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("calldata"));

  // The exact call from someone who is not the owner: mined, reverted.
  absl::StatusOr<std::string> reverted =
      stack_->anvil().SendTransaction({.from = kStranger, .to = a.to(), .data = a.data(), .gas = 200000});
  ASSERT_TRUE(reverted.ok()) << reverted.status();
  ASSERT_TRUE(stack_->anvil().WaitForReceipt(*reverted).ok());
  s = Submit("sub-reverted", op.id(), *reverted, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("reverted"));

  // The owner's transaction, not mined yet.
  ASSERT_TRUE(stack_->anvil().SetAutomine(false).ok());
  absl::StatusOr<std::string> tx = stack_->anvil().SendTransaction({.from = kOwner, .to = a.to(), .data = a.data()});
  ASSERT_TRUE(tx.ok()) << tx.status();
  s = Submit("sub-pending", op.id(), *tx, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("not mined"));
  EXPECT_EQ(stack_->Get(op.id())->state(), v1::OPERATION_STATE_WAITING_FOR_OWNER);
  ASSERT_TRUE(stack_->anvil().Mine(1).ok());
  ASSERT_TRUE(stack_->anvil().SetAutomine(true).ok());

  s = Submit("sub-ok", op.id(), *tx, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(out.state(), v1::OPERATION_STATE_WAITING_FOR_OWNER) << "not taken up at once";
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id());
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  EXPECT_TRUE(done->add_compose_hash().registered_by_owner());
  EXPECT_EQ(done->add_compose_hash().transaction_hash(), Lower(*tx));
  // Idempotent: the same request again returns the operation; another transaction is refused.
  s = Submit("sub-ok", op.id(), *tx, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.state(), v1::OPERATION_STATE_SUCCEEDED);
  s = Submit("sub-late", op.id(), *reverted, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("not waiting for the owner"));
}

TEST_F(OwnerE2eTest, CancelWhileWaitingForTheOwner) {
  v1::Operation op;
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::UpdateDockerCompose, ComposeUpdate("own-cancel", "nginx:1.26"), &op).ok());
  absl::StatusOr<v1::Operation> w = stack_->WaitFor(op.id(), absl::Seconds(40), v1::OPERATION_STATE_WAITING_FOR_OWNER);
  ASSERT_TRUE(w.ok()) << w.status();
  const std::string hash = w->owner_action().compose_hash();
  v1::CancelOperationRequest c;
  c.set_operation_id(op.id());
  v1::Operation out;
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::CancelOperation, c, &out).ok());
  EXPECT_EQ(out.state(), v1::OPERATION_STATE_CANCELLED);
  EXPECT_FALSE(out.has_owner_action());
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(stack_->Get(op.id())->state(), v1::OPERATION_STATE_CANCELLED);
  EXPECT_EQ(*stack_->CountComposeHashAdded(app(), hash), 0);
  EXPECT_NE(SimComposeHash(), hash);
}

TEST_F(OwnerE2eTest, KillNineWhileWaitingThenTheOwnerActs) {
  const uint64_t nonce = SignerNonce();
  v1::UpdateEnvVarsRequest r;
  r.set_request_id("own-env");
  r.set_cvm_id(cvm());
  // A new key changes allowed_envs, so the compose hash: two phases, the owner must register it.
  const std::map<std::string, std::string> env = {{"API_TOKEN", "after-kill"}, {"MODE", "staging"}, {"EXTRA", "x"}};
  for (const auto& [k, v] : env) {
    v1::EnvVar* e = r.add_env_vars();
    e->set_key(k);
    e->set_value(v);
  }
  v1::Operation op;
  ASSERT_TRUE(Call(&v1::Orchestrator::Stub::UpdateEnvVars, r, &op).ok());
  absl::StatusOr<v1::Operation> w = stack_->WaitFor(op.id(), absl::Seconds(40), v1::OPERATION_STATE_WAITING_FOR_OWNER);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->state(), v1::OPERATION_STATE_WAITING_FOR_OWNER) << w->DebugString();
  const int patches_before = stack_->CountSimRequests("PATCH", "/api/v1/cvms/" + cvm() + "/envs");

  ASSERT_TRUE(stack_->KillOrchestrator().ok());
  ASSERT_TRUE(stack_->StartOrchestrator().ok());
  absl::SleepFor(absl::Seconds(1));
  absl::StatusOr<v1::Operation> after = stack_->Get(op.id());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->state(), v1::OPERATION_STATE_WAITING_FOR_OWNER);
  EXPECT_EQ(after->owner_action().data(), w->owner_action().data());
  EXPECT_EQ(after->owner_action().watch_from_block(), w->owner_action().watch_from_block());

  const std::string tx = OwnerSends(after->owner_action());
  absl::StatusOr<v1::Operation> done = stack_->WaitFor(op.id(), absl::Seconds(60));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::OPERATION_STATE_SUCCEEDED) << done->DebugString();
  EXPECT_EQ(done->update().register_transaction_hash(), tx);
  const std::string hash = w->owner_action().compose_hash();
  EXPECT_EQ(*stack_->CountComposeHashAdded(app(), hash), 1);
  EXPECT_EQ(SignerNonce(), nonce) << "the signer's key sent a transaction";
  // The confirming call went once, with the owner's transaction as proof.
  EXPECT_EQ(stack_->CountSimRequests("PATCH", "/api/v1/cvms/" + cvm() + "/envs"), patches_before + 1);
  // The values were encrypted before the wait (ciphertext journaled): no WAITING_FOR_INPUT.
  ExpectIndependentVerdict(*stack_, cvm(), hash, env, app());
}

}  // namespace
}  // namespace orchestrator::e2e
