// SignAppCall through the engine (real SQLite record, real audit log): the calldata the signer
// builds for each call, the two intents' policy (devices like addComposeHash; ownership and
// upgrades only with a generic rule naming the call's arguments), anti-equivocation, audit.
#include "signer/engine/app_call.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "chain/dstack_app_calls.h"
#include "chain/hex.h"
#include "chain/transaction.h"
#include "google/protobuf/text_format.h"
#include "signer/engine/engine.h"
#include "signer/equivocation/sqlite_store.h"
#include "signer/testing/anvil_fixtures.h"

namespace signer::engine {
namespace {

namespace v1 = onchainkms::signer::v1;
using ::testing::HasSubstr;

constexpr char kNewOwner[] = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";    // anvil #1
constexpr char kOtherOwner[] = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";  // anvil #2
const std::string kDevice = "0x" + std::string(64, 'd');

// The chain, the app, and a caller bound to both intents; `rules` adds generic rules.
std::string PolicyText(const std::string& intents, const std::string& rules = "") {
  return absl::StrCat(R"pb(
    chains {
      chain_id: 31337
      app_contract_addresses: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be"
      max_fee_per_gas_wei: "100000000000"
      max_priority_fee_per_gas_wei: "10000000000"
      max_gas_limit: 2000000
    }
    default_key_limits { fee_budget_24h_wei: "1000000000000000" }
    callers {
      name: "ops"
      identities: "insecure"
      keys: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
      intents: [ )pb",
                      intents, " ]\n}\n", rules);
}
constexpr char kBothIntents[] = "INTENT_MANAGE_DEVICES, INTENT_MANAGE_OWNERSHIP";

std::string Rule(const std::string& name, const std::string& signature, const std::string& owner = "") {
  std::string r = absl::StrCat("generic_transaction_rules { name: \"", name, "\" chain_id: 31337 to: \"",
                               fixtures::kApp, "\" function_signature: \"", signature, "\"");
  if (!owner.empty()) absl::StrAppend(&r, " arguments { index: 0 equals_any: \"", owner, "\" }");
  return r + " }\n";
}

class AppCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(getenv("TEST_TMPDIR"), "/", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    keys_ = *keystore::KeyStore::FromSecrets({{"anvil0", *chain::FromHex(fixtures::kSecret)}});
    UsePolicy(PolicyText(kBothIntents));
    store_ = *equivocation::SqliteStore::Open(dir_ + "/ae.sqlite");
    audit_ = *audit::AuditLog::Open(dir_ + "/audit.jsonl", absl::ZeroDuration());
    engine_ =
        std::make_unique<Engine>(EngineDeps{keys_.get(), holder_.get(), &usage_, store_.get(), audit_.get(), nullptr});
  }
  void UsePolicy(const std::string& text) {
    v1::Policy p;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &p)) << text;
    absl::StatusOr<std::shared_ptr<const policy::CompiledPolicy>> compiled = policy::CompiledPolicy::Compile(p);
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    if (holder_ == nullptr) holder_ = std::make_unique<policy::PolicyHolder>(*compiled);
    holder_->Set(*compiled);
  }
  absl::Status Sign(const v1::SignAppCallRequest& r, v1::SignedTransaction* out) {
    std::promise<absl::Status> done;
    engine_->SignAppCall(caller_, r, out, [&](absl::Status s) { done.set_value(std::move(s)); });
    return done.get_future().get();
  }
  absl::Status Sign(const v1::SignAppCallRequest& r) {
    v1::SignedTransaction out;
    return Sign(r, &out);
  }
  std::string AuditText() {
    audit_.reset();
    std::stringstream text;
    text << std::ifstream(dir_ + "/audit.jsonl").rdbuf();
    return text.str();
  }

  std::string dir_;
  Caller caller_{platform::Caller::InsecureLoopback{"test"}};
  std::unique_ptr<keystore::KeyStore> keys_;
  std::unique_ptr<policy::PolicyHolder> holder_;
  policy::UsageTracker usage_;
  std::unique_ptr<equivocation::Store> store_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<Engine> engine_;
};

v1::SignAppCallRequest AddDevice(uint64_t nonce = 0) {
  v1::SignAppCallRequest r = fixtures::AppCallRequest(nonce);
  r.set_add_device_id(kDevice);
  return r;
}
v1::SignAppCallRequest Transfer(const std::string& to, uint64_t nonce = 0) {
  v1::SignAppCallRequest r = fixtures::AppCallRequest(nonce);
  r.set_transfer_ownership_to(to);
  return r;
}

TEST_F(AppCallTest, DeviceCallsSignTheCalldataTheSignerBuilt) {
  struct Case {
    std::function<void(v1::SignAppCallRequest&)> set;
    std::string data;  // the calldata, written out (cast calldata gives the same: chain/cast_oracle_test)
  };
  const Case cases[] = {
      {[](auto& r) { r.set_add_device_id(kDevice); }, "0x2a819728" + std::string(64, 'd')},
      {[](auto& r) { r.set_remove_device_id(kDevice); }, "0x1d266200" + std::string(64, 'd')},
      {[](auto& r) { r.set_set_allow_any_device(true); }, "0x7c4beeb8" + std::string(63, '0') + "1"},
      {[](auto& r) { r.set_set_allow_any_device(false); }, "0x7c4beeb8" + std::string(64, '0')},
  };
  uint64_t nonce = 0;
  for (const Case& c : cases) {
    v1::SignAppCallRequest r = fixtures::AppCallRequest(nonce++);
    c.set(r);
    v1::SignedTransaction out;
    ASSERT_TRUE(Sign(r, &out).ok()) << c.data;
    EXPECT_EQ(out.data(), c.data);
    EXPECT_EQ(out.to(), fixtures::kApp);
    EXPECT_EQ(out.value_wei(), "0");
    EXPECT_EQ(out.nonce_use(), v1::NONCE_USE_FIRST);
    absl::StatusOr<chain::SignedEip1559Transaction> tx =
        chain::DecodeSignedEip1559(*chain::FromHex(out.raw_transaction()));
    ASSERT_TRUE(tx.ok()) << tx.status();
    EXPECT_EQ(chain::ToHex(tx->tx.data), c.data) << "the signed bytes carry the built calldata";
    EXPECT_EQ(tx->Sender()->Checksummed(), fixtures::kFrom);
  }
  const std::string audit = AuditText();
  EXPECT_THAT(audit, HasSubstr(R"x("function":"addDevice(bytes32)")x"));
  EXPECT_THAT(audit, HasSubstr(absl::StrCat("\"call\":\"removeDevice(", kDevice, ")\"")));
  EXPECT_THAT(audit, HasSubstr(R"x("call":"setAllowAnyDevice(false)")x"));
  EXPECT_THAT(audit, HasSubstr(R"("rule":"chains[chain_id=31337].app_contract_addresses")"));
}

TEST_F(AppCallTest, DeviceCallsNeedTheIntentAndTheApp) {
  UsePolicy(PolicyText("INTENT_ADD_COMPOSE_HASH, INTENT_MANAGE_OWNERSHIP"));
  absl::Status s = Sign(AddDevice());
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr(R"(callers[name="ops"].intents)"));
  EXPECT_THAT(s.message(), HasSubstr("INTENT_MANAGE_DEVICES"));

  UsePolicy(PolicyText(kBothIntents));
  v1::SignAppCallRequest other = AddDevice();
  other.set_app_contract_address("0x9f1ac54BEF0DD2f6f3462EA0fa94fC62300d3a8e");
  s = Sign(other);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("chains[chain_id=31337].app_contract_addresses"));
  // any_app covers device calls, as it covers addComposeHash.
  std::string any = PolicyText(kBothIntents);
  any.replace(any.find("max_gas_limit"), 0, "any_app: true\n");
  UsePolicy(any);
  EXPECT_TRUE(Sign(other).ok());
}

TEST_F(AppCallTest, OwnershipCallsAreRefusedByDefault) {
  // No generic rule at all: the denial says what to add.
  absl::Status s = Sign(Transfer(kNewOwner));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("denied by policy rule generic_transaction_rules: no rule allows "
                                     "transferOwnership(address) on app 0xa16E02E87b7454126E5E10d957A927A7F5B5d2be"));
  EXPECT_THAT(s.message(), HasSubstr("equals_any"));
  for (auto set : {+[](v1::SignAppCallRequest& r) { r.set_accept_ownership(true); },
                   +[](v1::SignAppCallRequest& r) { r.set_disable_upgrades(true); }}) {
    v1::SignAppCallRequest r = fixtures::AppCallRequest();
    set(r);
    EXPECT_EQ(Sign(r).code(), absl::StatusCode::kPermissionDenied);
  }
  // A selector-only rule (enough for SignTransaction) does not name the new owner.
  UsePolicy(PolicyText(kBothIntents, absl::StrCat("generic_transaction_rules { name: \"sel\" chain_id: 31337 to: \"",
                                                  fixtures::kApp, "\" selector: \"0xf2fde38b\" }")));
  s = Sign(Transfer(kNewOwner));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr(R"(generic_transaction_rules[name="sel"].function_signature)"));
  // A signature without an argument matcher allows any new owner: not enough either.
  UsePolicy(PolicyText(kBothIntents, Rule("any-owner", "transferOwnership(address)")));
  s = Sign(Transfer(kNewOwner));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr(R"(generic_transaction_rules[name="any-owner"].arguments)"));
  EXPECT_THAT(AuditText(), HasSubstr(R"x("function":"transferOwnership(address)")x"));
}

TEST_F(AppCallTest, TransferOwnershipOnlyToTheOwnerTheRuleNames) {
  UsePolicy(PolicyText(kBothIntents, Rule("hand-over", "transferOwnership(address)", kNewOwner)));
  v1::SignedTransaction out;
  ASSERT_TRUE(Sign(Transfer(kNewOwner), &out).ok());
  EXPECT_EQ(out.data(), "0xf2fde38b000000000000000000000000" + absl::AsciiStrToLower(std::string(kNewOwner + 2)));
  absl::Status s = Sign(Transfer(kOtherOwner, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr(R"(generic_transaction_rules[name="hand-over"].arguments[index=0])"));
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat(kOtherOwner, " is not an allowed value")));
  // The intent is needed as well as the rule.
  UsePolicy(PolicyText("INTENT_MANAGE_DEVICES", Rule("hand-over", "transferOwnership(address)", kNewOwner)));
  s = Sign(Transfer(kNewOwner, 2));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("INTENT_MANAGE_OWNERSHIP"));
  const std::string audit = AuditText();
  EXPECT_THAT(audit, HasSubstr(absl::StrCat(R"("new_owner":")", kNewOwner, R"(")")));
  EXPECT_THAT(audit, HasSubstr(R"("rule":"generic_transaction_rules[name=\"hand-over\"]")"));
}

TEST_F(AppCallTest, AcceptOwnershipAndDisableUpgradesWithTheirRules) {
  UsePolicy(PolicyText(kBothIntents, Rule("accept", "acceptOwnership()") + Rule("freeze", "disableUpgrades()")));
  v1::SignAppCallRequest accept = fixtures::AppCallRequest(0);
  accept.set_accept_ownership(true);
  v1::SignedTransaction out;
  ASSERT_TRUE(Sign(accept, &out).ok());
  EXPECT_EQ(out.data(), "0x79ba5097");
  v1::SignAppCallRequest freeze = fixtures::AppCallRequest(1);
  freeze.set_disable_upgrades(true);
  ASSERT_TRUE(Sign(freeze, &out).ok());
  EXPECT_EQ(out.data(), "0xec669036");
  // A rule for one function does not allow the other.
  UsePolicy(PolicyText(kBothIntents, Rule("accept", "acceptOwnership()")));
  freeze.set_nonce(2);
  absl::Status s = Sign(freeze);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("disableUpgrades()"));
}

TEST_F(AppCallTest, OneCallPerNonce) {
  v1::SignedTransaction first, again;
  ASSERT_TRUE(Sign(AddDevice(5), &first).ok());
  ASSERT_TRUE(Sign(AddDevice(5), &again).ok());
  EXPECT_EQ(again.nonce_use(), v1::NONCE_USE_REPEAT);
  EXPECT_EQ(again.raw_transaction(), first.raw_transaction());
  v1::SignAppCallRequest other = fixtures::AppCallRequest(5);
  other.set_remove_device_id(kDevice);
  absl::Status s = Sign(other);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(AuditText(), HasSubstr(R"("nonce_use":"conflict")"));
}

TEST_F(AppCallTest, FeeCapsApply) {
  v1::SignAppCallRequest r = AddDevice();
  r.set_max_fee_per_gas_wei("100000000001");
  absl::Status s = Sign(r);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("chains[chain_id=31337].max_fee_per_gas_wei"));
}

TEST_F(AppCallTest, BadFieldsAreNamed) {
  struct Case {
    std::function<void(v1::SignAppCallRequest&)> set;
    std::string message;
  };
  const Case cases[] = {
      {[](auto&) {},
       "call: required: one of add_device_id, remove_device_id, set_allow_any_device, transfer_ownership_to, "
       "accept_ownership, disable_upgrades"},
      {[](auto& r) { r.set_add_device_id("0x12"); }, "add_device_id: want 64 hex digits (\"0x\" optional)"},
      {[](auto& r) { r.set_add_device_id(std::string(64, '0')); }, "add_device_id: must not be zero"},
      {[](auto& r) { r.set_remove_device_id(""); }, "remove_device_id: required"},
      {[](auto& r) { r.set_transfer_ownership_to("0x0000000000000000000000000000000000000000"); },
       "transfer_ownership_to: must not be the zero address"},
      {[](auto& r) {
         r.set_accept_ownership(true);
         r.set_app_contract_address("");
       },
       "app_contract_address: required"},
  };
  for (const Case& c : cases) {
    v1::SignAppCallRequest r = fixtures::AppCallRequest();
    c.set(r);
    absl::Status s = Sign(r);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_EQ(s.message(), c.message);
  }
  // Nothing was signed: nonce 0 is still free for a good request.
  v1::SignedTransaction out;
  ASSERT_TRUE(Sign(AddDevice(0), &out).ok());
  EXPECT_EQ(out.nonce_use(), v1::NONCE_USE_FIRST);
}

}  // namespace
}  // namespace signer::engine
