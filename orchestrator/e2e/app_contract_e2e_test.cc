// UpdateAppContract and GetAppState on the real stack (anvil with the test contracts, the
// simulator, the real signer and orchestrator processes), checked against `cast`:
//   - device add / remove / allow-any sent from the signer key; `cast call` on allowedDeviceIds
//     and allowAnyDevice agrees; a change already in effect sends nothing;
//   - kill -9 of the orchestrator at every point of the flow (crash points, as crash_e2e_test):
//     exactly one transaction (one event) per change on chain;
//   - transferOwnership refused by the default policy (FAILED with the signer's
//     PERMISSION_DENIED naming the rule), allowed by a rule naming the new owner;
//   - `kmsctl app disable-upgrades` refuses without --yes (exit 2, nothing sent) and, with --yes
//     and a rule, disables upgrades (GetAppState.upgrades_disabled, one UpgradesDisabled log);
//   - GetAppState field by field against cast, and NOT_FOUND for an address without a contract.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/e2e/stack.h"
#include "orchestrator/e2e/stack_test.h"
#include "platform/testing/server_process.h"
#include "test/anvil/harness.h"

namespace orchestrator::e2e {
namespace {

using ::testing::HasSubstr;

constexpr char kDeviceAdded[] = "0x67fc71ab96fe3fa3c6f78e9a00e635d591b7333ce611c0380bc577aac702243b";
constexpr char kDeviceRemoved[] = "0xe0862975ac517b0478d308012afabc4bc37c23874a18144d7f2dfb852ff95c2c";
constexpr char kAllowAnyDeviceSet[] = "0xbb2cdb6c7b362202d40373f87bc4788301cca658f91711ac1662e1ad2cba4a20";
constexpr char kUpgradesDisabled[] = "0x0e5daa943fcd7e7182d0e893d180695c2ea9f6f1b4a1c5432faf14cf17b774e8";
constexpr char kImplementationSlot[] = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";
constexpr char kNewOwner[] = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";  // anvil #1

// A device id (0x + 64 hex) made from a label, distinct per test case.
std::string DeviceId(const std::string& label) {
  std::string hex;
  for (char c : label) absl::StrAppend(&hex, absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
  hex.resize(64, '0');
  return "0x" + hex.substr(0, 64);
}

std::string Cast(Stack& stack, std::vector<std::string> args) {
  args.push_back("--rpc-url");
  args.push_back(stack.anvil().chain().rpc_url);
  absl::StatusOr<std::string> out = anvil::RunCast(args);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? std::string(absl::StripAsciiWhitespace(*out)) : "";
}

// `cast call APP SIG [ARG]` of a bool getter.
bool CastBool(Stack& stack, const std::string& app, const std::string& sig, const std::string& arg = "") {
  std::vector<std::string> args = {"call", app, sig};
  if (!arg.empty()) args.push_back(arg);
  const std::string out = Cast(stack, args);
  EXPECT_TRUE(out == "true" || out == "false") << sig << ": " << out;
  return out == "true";
}

// Deploys a CVM (with its app, owned by the signer key) through the orchestrator.
v1::DeployResult DeployApp(Stack& stack, const std::string& name) {
  grpc::ClientContext ctx;
  v1::Operation op;
  grpc::Status s = stack.stub().DeployCvm(&ctx, stack.DeployRequest("deploy-" + name, name), &op);
  EXPECT_TRUE(s.ok()) << s.error_message();
  absl::StatusOr<v1::Operation> done = stack.WaitFor(op.id());
  EXPECT_TRUE(done.ok() && done->state() == v1::OPERATION_STATE_SUCCEEDED) << (done.ok() ? done->DebugString() : "");
  return done.ok() ? done->deploy() : v1::DeployResult();
}

grpc::Status Send(Stack& stack, const v1::UpdateAppContractRequest& r, v1::Operation* op) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stack.stub().UpdateAppContract(&ctx, r, op);
}

// Sends and waits for the end.
v1::Operation Change(Stack& stack, const v1::UpdateAppContractRequest& r) {
  v1::Operation op;
  grpc::Status s = Send(stack, r, &op);
  EXPECT_TRUE(s.ok()) << s.error_message();
  absl::StatusOr<v1::Operation> done = stack.WaitFor(op.id());
  EXPECT_TRUE(done.ok()) << done.status();
  return done.ok() ? *done : op;
}

v1::UpdateAppContractRequest ChangeOn(const v1::DeployResult& d, const std::string& request_id) {
  v1::UpdateAppContractRequest r;
  r.set_request_id(request_id);
  r.set_cvm_id(d.cvm_id());
  return r;
}

absl::StatusOr<v1::AppState> State(Stack& stack, const v1::DeployResult& d,
                                   const std::vector<std::string>& devices = {},
                                   const std::vector<std::string>& hashes = {}) {
  grpc::ClientContext ctx;
  v1::GetAppStateRequest r;
  r.mutable_app()->set_chain_id(d.chain_id());
  r.mutable_app()->set_app_contract_address(d.app_id());
  for (const std::string& x : devices) r.add_device_ids(x);
  for (const std::string& x : hashes) r.add_compose_hashes(x);
  v1::AppState s;
  grpc::Status st = stack.stub().GetAppState(&ctx, r, &s);
  if (!st.ok()) return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
  return s;
}

const v1::Step* StepOf(const v1::Operation& op, const std::string& name) {
  for (const v1::Step& s : op.steps()) {
    if (s.name() == name) return &s;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------

class AppContractE2eTest : public StackTest<> {
 protected:
  static void SetUpTestSuite() {
    StartStack();
    app_ = DeployApp(*stack_, "e2e-app-governed");
  }
  inline static v1::DeployResult app_;
};

TEST_F(AppContractE2eTest, GetAppStateAgreesWithCast) {
  const std::string device = DeviceId("state-check");
  absl::StatusOr<v1::AppState> s = State(*stack_, app_, {device, app_.device_id()}, {app_.compose_hash()});
  ASSERT_TRUE(s.ok()) << s.status();
  const std::string& app = app_.app_id();
  EXPECT_EQ(s->chain_id(), 31337u);
  EXPECT_EQ(absl::AsciiStrToLower(s->app_contract_address()), absl::AsciiStrToLower(app));
  EXPECT_EQ(s->owner(), Cast(*stack_, {"call", app, "owner()(address)"}));
  EXPECT_TRUE(s->owner_is_signer_key());
  EXPECT_FALSE(s->two_step_ownership()) << "the default test contract is one-step";
  EXPECT_EQ(s->pending_owner(), "");
  EXPECT_EQ(s->allow_any_device(), CastBool(*stack_, app, "allowAnyDevice()(bool)"));
  EXPECT_EQ(s->require_tcb_up_to_date(), CastBool(*stack_, app, "requireTcbUpToDate()(bool)"));
  EXPECT_EQ(absl::StrCat(s->version()), Cast(*stack_, {"call", app, "version()(uint256)"}));
  const std::string slot = Cast(*stack_, {"storage", app, kImplementationSlot});
  EXPECT_EQ(absl::AsciiStrToLower(s->implementation_address()), "0x" + slot.substr(slot.size() - 40));
  EXPECT_FALSE(s->upgrades_disabled());
  ASSERT_EQ(s->devices_size(), 2);
  EXPECT_EQ(s->devices(0).value(), device);
  EXPECT_EQ(s->devices(0).allowed(), CastBool(*stack_, app, "allowedDeviceIds(bytes32)(bool)", device));
  EXPECT_FALSE(s->devices(0).allowed());
  EXPECT_EQ(s->devices(1).allowed(), CastBool(*stack_, app, "allowedDeviceIds(bytes32)(bool)", app_.device_id()));
  ASSERT_EQ(s->compose_hashes_size(), 1);
  EXPECT_TRUE(s->compose_hashes(0).allowed());
  EXPECT_EQ(s->block_number(), std::stoull(Cast(*stack_, {"block-number"})));

  // An address without a contract (and so outside the caller's scope): NOT_FOUND naming it.
  v1::DeployResult nowhere = app_;
  nowhere.set_app_id("0x000000000000000000000000000000000000dEaD");
  absl::StatusOr<v1::AppState> none = State(*stack_, nowhere);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("0x000000000000000000000000000000000000dEaD"));
}

TEST_F(AppContractE2eTest, DevicesThroughTheSignerKey) {
  const std::string& app = app_.app_id();
  const std::string device = DeviceId("devices-e2e");
  v1::UpdateAppContractRequest add = ChangeOn(app_, "dev-add");
  add.mutable_add_device()->set_device_id(device);
  v1::Operation done = Change(*stack_, add);
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(done.kind(), v1::OPERATION_KIND_UPDATE_APP_CONTRACT);
  const v1::AppContractChangeResult& r = done.app_contract_change();
  EXPECT_EQ(r.function_signature(), "addDevice(bytes32)");
  EXPECT_FALSE(r.already_in_effect());
  EXPECT_FALSE(r.transaction_hash().empty());
  ASSERT_EQ(r.state().devices_size(), 1);
  EXPECT_TRUE(r.state().devices(0).allowed());
  EXPECT_EQ(r.state().block_number(), r.block_number());
  EXPECT_TRUE(CastBool(*stack_, app, "allowedDeviceIds(bytes32)(bool)", device));
  EXPECT_EQ(Cast(*stack_, {"tx", r.transaction_hash(), "from"}), Cast(*stack_, {"call", app, "owner()(address)"}));
  EXPECT_EQ(*stack_->CountLogs(app, kDeviceAdded, device), 1);

  // The same request again: the same operation. Another request for the same change: nothing sent.
  v1::Operation again;
  ASSERT_TRUE(Send(*stack_, add, &again).ok());
  EXPECT_EQ(again.id(), done.id());
  add.set_request_id("dev-add-2");
  v1::Operation noop = Change(*stack_, add);
  ASSERT_EQ(noop.state(), v1::OPERATION_STATE_SUCCEEDED) << noop.DebugString();
  EXPECT_TRUE(noop.app_contract_change().already_in_effect());
  EXPECT_EQ(StepOf(noop, "app_call")->state(), v1::STEP_STATE_SKIPPED);
  EXPECT_EQ(*stack_->CountLogs(app, kDeviceAdded, device), 1) << "nothing sent for a change in effect";

  v1::UpdateAppContractRequest rm = ChangeOn(app_, "dev-rm");
  rm.mutable_remove_device()->set_device_id(device);
  done = Change(*stack_, rm);
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_FALSE(CastBool(*stack_, app, "allowedDeviceIds(bytes32)(bool)", device));
  EXPECT_EQ(*stack_->CountLogs(app, kDeviceRemoved, device), 1);

  for (bool any : {true, false}) {
    v1::UpdateAppContractRequest set = ChangeOn(app_, absl::StrCat("dev-any-", any));
    set.mutable_set_allow_any_device()->set_allow_any_device(any);
    done = Change(*stack_, set);
    ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
    EXPECT_EQ(CastBool(*stack_, app, "allowAnyDevice()(bool)"), any);
    EXPECT_EQ(done.app_contract_change().state().allow_any_device(), any);
  }
}

TEST_F(AppContractE2eTest, TransferOwnershipNeedsAPolicyRuleNamingTheNewOwner) {
  const v1::DeployResult other = DeployApp(*stack_, "e2e-app-transferred");
  v1::UpdateAppContractRequest t = ChangeOn(other, "transfer-1");
  t.mutable_transfer_ownership()->set_new_owner(kNewOwner);
  t.mutable_transfer_ownership()->set_confirm(true);
  v1::Operation refused = Change(*stack_, t);
  ASSERT_EQ(refused.state(), v1::OPERATION_STATE_FAILED) << refused.DebugString();
  EXPECT_EQ(refused.error().code(), static_cast<int>(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_EQ(refused.error().step(), "app_call");
  EXPECT_THAT(refused.error().message(), HasSubstr("generic_transaction_rules"));
  EXPECT_EQ(absl::AsciiStrToLower(Cast(*stack_, {"call", other.app_id(), "owner()(address)"})),
            absl::AsciiStrToLower(stack_->signer_address()));

  ASSERT_TRUE(
      stack_
          ->SetSignerPolicyExtra(absl::StrCat(R"pb(generic_transaction_rules {
  name: "hand-over-e2e" chain_id: 31337 to: ")pb",
                                              other.app_id(), R"pb(" function_signature: "transferOwnership(address)"
  arguments { index: 0 equals_any: ")pb",
                                              kNewOwner, R"pb(" }
})pb"))
          .ok());
  ASSERT_TRUE(stack_->StopSigner().ok());
  ASSERT_TRUE(stack_->StartSigner().ok());
  t.set_request_id("transfer-2");
  v1::Operation done = Change(*stack_, t);
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  absl::StatusOr<v1::AppState> s = State(*stack_, other);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->owner(), kNewOwner);
  EXPECT_FALSE(s->owner_is_signer_key());
  EXPECT_EQ(Cast(*stack_, {"call", other.app_id(), "owner()(address)"}), kNewOwner);
  ASSERT_TRUE(stack_->SetSignerPolicyExtra("").ok());
  ASSERT_TRUE(stack_->StopSigner().ok());
  ASSERT_TRUE(stack_->StartSigner().ok());
}

TEST_F(AppContractE2eTest, KmsctlDisableUpgradesNeedsYes) {
  const std::string kmsctl = platform::testing::RunfilePath("orchestrator/kmsctl/kmsctl");
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "--orchestrator=" + stack_->address());
    absl::StatusOr<std::unique_ptr<Child>> c = Child::Spawn(kmsctl, args, {}, stack_->dir() + "/kmsctl.log");
    EXPECT_TRUE(c.ok()) << c.status();
    absl::StatusOr<int> code = c.ok() ? (*c)->Wait(absl::Seconds(60)) : absl::InternalError("no kmsctl");
    EXPECT_TRUE(code.ok()) << code.status();
    return code.ok() ? *code : -1;
  };
  const std::string app = app_.app_id();
  EXPECT_EQ(run({"app", "disable-upgrades", "--cvm=" + app_.cvm_id(), "--request-id=freeze-1"}), 2);
  EXPECT_EQ(*stack_->CountLogs(app, kUpgradesDisabled), 0) << "nothing sent without --yes";
  // With --yes, the default policy refuses: the operation fails (exit 5), still nothing on chain.
  EXPECT_EQ(run({"app", "disable-upgrades", "--yes", "--cvm=" + app_.cvm_id(), "--request-id=freeze-2"}), 5);
  EXPECT_EQ(*stack_->CountLogs(app, kUpgradesDisabled), 0);
  ASSERT_TRUE(stack_
                  ->SetSignerPolicyExtra(absl::StrCat(R"pb(generic_transaction_rules {
  name: "freeze-e2e" chain_id: 31337 to: ")pb",
                                                      app, R"pb(" function_signature: "disableUpgrades()"
})pb"))
                  .ok());
  ASSERT_TRUE(stack_->StopSigner().ok());
  ASSERT_TRUE(stack_->StartSigner().ok());
  EXPECT_EQ(run({"app", "disable-upgrades", "--yes", "--cvm=" + app_.cvm_id(), "--request-id=freeze-3"}), 0);
  EXPECT_EQ(*stack_->CountLogs(app, kUpgradesDisabled), 1);
  absl::StatusOr<v1::AppState> s = State(*stack_, app_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->upgrades_disabled());
  ASSERT_TRUE(stack_->SetSignerPolicyExtra("").ok());
  ASSERT_TRUE(stack_->StopSigner().ok());
  ASSERT_TRUE(stack_->StartSigner().ok());
}

// ---------------------------------------------------------------------------------------------
// Two-step ownership (DstackAppTwoStep): the transfer only stages the pending owner; its
// acceptance must come from that address, which the signer does not hold, so the operation waits
// for it (WAITING_FOR_OWNER) until `cast send` from it lands.

struct TwoStep : ::testing::Test {};

class AppContractTwoStepE2eTest : public StackTest<TwoStep> {
 protected:
  static void SetUpTestSuite() {
    StartStack({.two_step_ownership = true});
    app_ = DeployApp(*stack_, "e2e-app-two-step");
  }
  inline static v1::DeployResult app_;
};

TEST_F(AppContractTwoStepE2eTest, TransferStagesThePendingOwnerWhoAcceptsItself) {
  const std::string& app = app_.app_id();
  ASSERT_TRUE(stack_
                  ->SetSignerPolicyExtra(absl::StrCat(R"pb(generic_transaction_rules {
  name: "hand-over-two-step" chain_id: 31337 to: ")pb",
                                                      app, R"pb(" function_signature: "transferOwnership(address)"
  arguments { index: 0 equals_any: ")pb",
                                                      kNewOwner, R"pb(" }
})pb"))
                  .ok());
  ASSERT_TRUE(stack_->StopSigner().ok());
  ASSERT_TRUE(stack_->StartSigner().ok());
  v1::UpdateAppContractRequest t = ChangeOn(app_, "two-step-transfer");
  t.mutable_transfer_ownership()->set_new_owner(kNewOwner);
  t.mutable_transfer_ownership()->set_confirm(true);
  v1::Operation done = Change(*stack_, t);
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  absl::StatusOr<v1::AppState> s = State(*stack_, app_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->two_step_ownership());
  EXPECT_EQ(s->pending_owner(), kNewOwner);
  EXPECT_EQ(s->pending_owner(), Cast(*stack_, {"call", app, "pendingOwner()(address)"}));
  EXPECT_EQ(absl::AsciiStrToLower(s->owner()), absl::AsciiStrToLower(stack_->signer_address()));

  // The pending owner (anvil #1) is not a key of the signer: acceptOwnership waits for it.
  v1::UpdateAppContractRequest accept = ChangeOn(app_, "two-step-accept");
  accept.mutable_accept_ownership();
  v1::Operation op;
  ASSERT_TRUE(Send(*stack_, accept, &op).ok());
  absl::StatusOr<v1::Operation> waiting =
      stack_->WaitFor(op.id(), absl::Seconds(40), v1::OPERATION_STATE_WAITING_FOR_OWNER);
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  ASSERT_EQ(waiting->state(), v1::OPERATION_STATE_WAITING_FOR_OWNER) << waiting->DebugString();
  const v1::OwnerAction& action = waiting->owner_action();
  EXPECT_EQ(action.owner_address(), kNewOwner);
  EXPECT_EQ(absl::AsciiStrToLower(action.to()), absl::AsciiStrToLower(app));
  EXPECT_EQ(action.data(), "0x79ba5097");
  EXPECT_EQ(action.function_signature(), "acceptOwnership()");
  Cast(*stack_, {"send", action.to(), action.data(), "--private-key", anvil::kSecondPrivateKey});
  absl::StatusOr<v1::Operation> accepted = stack_->WaitFor(op.id(), absl::Seconds(60));
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  ASSERT_EQ(accepted->state(), v1::OPERATION_STATE_SUCCEEDED) << accepted->DebugString();
  EXPECT_TRUE(accepted->app_contract_change().sent_by_owner());
  EXPECT_EQ(accepted->app_contract_change().state().owner(), kNewOwner);
  EXPECT_EQ(accepted->app_contract_change().state().pending_owner(), "");
  EXPECT_EQ(Cast(*stack_, {"call", app, "owner()(address)"}), kNewOwner);
}

// ---------------------------------------------------------------------------------------------
// kill -9 at each point: exactly one transaction per change.

class AppContractCrashE2eTest : public StackTest<::testing::TestWithParam<std::string>> {
 protected:
  static void SetUpTestSuite() {
    StartStack({.crash_points = true});
    app_ = DeployApp(*stack_, "e2e-app-crashed");
    (void)stack_->KillOrchestrator();
  }
  void TearDown() override {
    StackTest::TearDown();
    (void)stack_->KillOrchestrator();
  }

  // Starts with the crash point armed, sends, expects the kill, restarts, sends again, waits.
  v1::Operation CrashAndResume(const v1::UpdateAppContractRequest& r) {
    const std::string point = GetParam();
    EXPECT_TRUE(stack_->StartOrchestrator({"ORCHESTRATOR_CRASH_AT=" + point}).ok());
    v1::Operation op;
    (void)Send(*stack_, r, &op);  // the answer may be lost if the crash comes first
    absl::StatusOr<int> code = stack_->WaitOrchestratorExit(absl::Seconds(30));
    EXPECT_TRUE(code.ok()) << "the crash point " << point << " was never reached";
    if (code.ok()) EXPECT_EQ(*code, 128 + SIGKILL);
    EXPECT_TRUE(stack_->StartOrchestrator().ok());
    v1::Operation done = Change(*stack_, r);
    (void)stack_->KillOrchestrator();
    return done;
  }

  inline static v1::DeployResult app_;
};

TEST_P(AppContractCrashE2eTest, ExactlyOneTransactionPerChange) {
  const std::string point = GetParam();
  const std::string slug = absl::StrReplaceAll(point, {{":", "-"}, {"_", "-"}});
  const std::string& app = app_.app_id();
  const std::string device = DeviceId(slug);

  v1::UpdateAppContractRequest add = ChangeOn(app_, "crash-add-" + slug);
  add.mutable_add_device()->set_device_id(device);
  v1::Operation done = CrashAndResume(add);
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_TRUE(CastBool(*stack_, app, "allowedDeviceIds(bytes32)(bool)", device));
  EXPECT_EQ(*stack_->CountLogs(app, kDeviceAdded, device), 1) << "exactly one addDevice";

  v1::UpdateAppContractRequest rm = ChangeOn(app_, "crash-rm-" + slug);
  rm.mutable_remove_device()->set_device_id(device);
  done = CrashAndResume(rm);
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_FALSE(CastBool(*stack_, app, "allowedDeviceIds(bytes32)(bool)", device));
  EXPECT_EQ(*stack_->CountLogs(app, kDeviceRemoved, device), 1) << "exactly one removeDevice";

  const bool any = !CastBool(*stack_, app, "allowAnyDevice()(bool)");
  const int sets_before = *stack_->CountLogs(app, kAllowAnyDeviceSet);
  v1::UpdateAppContractRequest set = ChangeOn(app_, "crash-any-" + slug);
  set.mutable_set_allow_any_device()->set_allow_any_device(any);
  done = CrashAndResume(set);
  ASSERT_EQ(done.state(), v1::OPERATION_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(CastBool(*stack_, app, "allowAnyDevice()(bool)"), any);
  EXPECT_EQ(*stack_->CountLogs(app, kAllowAnyDeviceSet), sets_before + 1) << "exactly one setAllowAnyDevice";
  // Every nonce of the signer key mined: nothing left signed and unsent.
  EXPECT_EQ(Cast(*stack_, {"nonce", stack_->signer_address()}),
            Cast(*stack_, {"nonce", "--block", "pending", stack_->signer_address()}));
}

INSTANTIATE_TEST_SUITE_P(Points, AppContractCrashE2eTest,
                         ::testing::Values("get_cvm:after", "read_app_state:before", "read_app_state:after",
                                           "app_call:before", "app_call:intent", "app_call:signed", "app_call:after"),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           return absl::StrReplaceAll(i.param, {{":", "_"}});
                         });

}  // namespace
}  // namespace orchestrator::e2e
