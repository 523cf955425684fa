#include "signer/policy/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "chain/abi.h"
#include "chain/dstack_calls.h"
#include "chain/hex.h"
#include "google/protobuf/text_format.h"
#include "signer/policy/policy_holder.h"
#include "signer/policy/usage_tracker.h"

namespace signer::policy {
namespace {

using ::testing::HasSubstr;
namespace v1 = onchainkms::signer::v1;

constexpr char kPolicy[] = R"pb(
  chains {
    chain_id: 8453
    name: "base"
    kms_contract_addresses: "0x2222222222222222222222222222222222222222"
    any_app: true
    max_fee_per_gas_wei: "50000000000"
    max_priority_fee_per_gas_wei: "5000000000"
    max_gas_limit: 1000000
  }
  chains {
    chain_id: 31337
    kms_contract_addresses: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    app_contract_addresses: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be"
    max_fee_per_gas_wei: "100000000000"
    max_priority_fee_per_gas_wei: "10000000000"
    max_gas_limit: 2000000
  }
  default_key_limits {
    rate_limit { requests_per_second: 1 burst: 2 }
    fee_budget_24h_wei: "1000000"
  }
  keys {
    address: "0x1111111111111111111111111111111111111111"
    limits { fee_budget_24h_wei: "5000000" }
  }
  generic_transaction_rules {
    name: "transfer-ownership"
    chain_id: 31337
    to: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be"
    selector: "0xf2fde38b"
  }
  generic_transaction_rules {
    name: "pay-treasury"
    chain_id: 31337
    to: "0x3333333333333333333333333333333333333333"
    max_value_wei: "1000"
    from_addresses: "0x1111111111111111111111111111111111111111"
  }
  message_signing { enabled: true from_addresses: "0x1111111111111111111111111111111111111111" max_message_bytes: 10 }
  callers {
    name: "deployer"
    identities: "uid:1000"
    keys: [ "0x1111111111111111111111111111111111111111", "0x4444444444444444444444444444444444444444" ]
    intents: [ INTENT_DEPLOY_AND_REGISTER_APP, INTENT_ADD_COMPOSE_HASH, INTENT_GENERIC_TRANSACTION ]
  }
)pb";

chain::Address A(absl::string_view s) { return *chain::Address::Parse(s); }
const chain::Address kKey = A("0x1111111111111111111111111111111111111111");
const chain::Address kOther = A("0x4444444444444444444444444444444444444444");

std::shared_ptr<const CompiledPolicy> Compile(absl::string_view text) {
  v1::Policy p;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(std::string(text), &p));
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> c = CompiledPolicy::Compile(p);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : nullptr;
}

TxIntent Deploy() {
  TxIntent t;
  t.kind = TxIntent::Kind::kDeployAndRegisterApp;
  t.caller = "uid:1000";
  t.chain_id = 8453;
  t.from = kKey;
  t.to = A("0x2222222222222222222222222222222222222222");
  t.gas_limit = 300000;
  t.max_fee_per_gas = chain::U256(1000000000);
  t.max_priority_fee_per_gas = chain::U256(1000000);
  return t;
}

TxIntent Generic(absl::string_view to, absl::string_view data_hex, uint64_t value = 0) {
  TxIntent t = Deploy();
  t.kind = TxIntent::Kind::kGeneric;
  t.chain_id = 31337;
  t.to = A(to);
  t.data = *chain::FromHex(data_hex);
  t.value = chain::U256(value);
  return t;
}

void ExpectDenied(const Decision& d, absl::string_view rule) {
  EXPECT_TRUE(absl::IsPermissionDenied(d.status)) << d.status;
  EXPECT_EQ(d.rule, rule);
  EXPECT_THAT(std::string(d.status.message()), HasSubstr(std::string(rule)));
}

TEST(Policy, ChainsRule) {
  auto p = Compile(kPolicy);
  EXPECT_TRUE(p->CheckTransaction(Deploy()).allowed());
  TxIntent t = Deploy();
  t.chain_id = 1;
  ExpectDenied(p->CheckTransaction(t), "chains");
}

TEST(Policy, KmsFactoryRule) {
  auto p = Compile(kPolicy);
  Decision ok = p->CheckTransaction(Deploy());
  EXPECT_EQ(ok.rule, "chains[chain_id=8453].kms_contract_addresses");
  TxIntent t = Deploy();
  t.to = kOther;
  ExpectDenied(p->CheckTransaction(t), "chains[chain_id=8453].kms_contract_addresses");
}

TEST(Policy, AppContractRuleAndAnyApp) {
  auto p = Compile(kPolicy);
  TxIntent t = Deploy();
  t.kind = TxIntent::Kind::kAddComposeHash;
  t.to = kOther;
  EXPECT_EQ(p->CheckTransaction(t).rule, "chains[chain_id=8453].any_app");  // any app on base
  t.chain_id = 31337;
  ExpectDenied(p->CheckTransaction(t), "chains[chain_id=31337].app_contract_addresses");
  t.to = A("0xa16e02e87b7454126e5e10d957a927a7f5b5d2be");
  EXPECT_EQ(p->CheckTransaction(t).rule, "chains[chain_id=31337].app_contract_addresses");
  // any_app never opens the factory.
  TxIntent d = Deploy();
  d.to = kOther;
  EXPECT_FALSE(p->CheckTransaction(d).allowed());
}

TEST(Policy, FeeAndGasCaps) {
  auto p = Compile(kPolicy);
  TxIntent t = Deploy();
  t.max_fee_per_gas = chain::U256(50000000000);
  EXPECT_TRUE(p->CheckTransaction(t).allowed()) << "the cap itself is allowed";
  t.max_fee_per_gas = chain::U256(50000000001);
  ExpectDenied(p->CheckTransaction(t), "chains[chain_id=8453].max_fee_per_gas_wei");
  t = Deploy();
  t.max_priority_fee_per_gas = chain::U256(5000000001);
  ExpectDenied(p->CheckTransaction(t), "chains[chain_id=8453].max_priority_fee_per_gas_wei");
  t = Deploy();
  t.gas_limit = 1000001;
  ExpectDenied(p->CheckTransaction(t), "chains[chain_id=8453].max_gas_limit");
  // Caps apply to generic transactions too.
  TxIntent g = Generic("0xa16E02E87b7454126E5E10d957A927A7F5B5d2be", "0xf2fde38b00");
  g.gas_limit = 2000001;
  ExpectDenied(p->CheckTransaction(g), "chains[chain_id=31337].max_gas_limit");
}

TEST(Policy, IntentsCarryNoValue) {
  auto p = Compile(kPolicy);
  TxIntent t = Deploy();
  t.value = chain::U256(1);
  ExpectDenied(p->CheckTransaction(t), "chains[chain_id=8453].kms_contract_addresses");
}

TEST(Policy, GenericRules) {
  auto p = Compile(kPolicy);
  const std::string app = "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be";
  Decision ok = p->CheckTransaction(Generic(app, "0xf2fde38b0000"));
  EXPECT_TRUE(ok.allowed()) << ok.status;
  EXPECT_EQ(ok.rule, "generic_transaction_rules[name=\"transfer-ownership\"]");
  ExpectDenied(p->CheckTransaction(Generic(app, "0xdeadbeef")), "generic_transaction_rules");  // other selector
  ExpectDenied(p->CheckTransaction(Generic(app, "0x")), "generic_transaction_rules");          // plain transfer
  ExpectDenied(p->CheckTransaction(Generic(app, "0xf2fd")), "generic_transaction_rules");      // short data
  ExpectDenied(p->CheckTransaction(Generic(app, "0xf2fde38b", 1)),
               "generic_transaction_rules[name=\"transfer-ownership\"].max_value_wei");
  TxIntent other_chain = Generic(app, "0xf2fde38b");
  other_chain.chain_id = 8453;
  ExpectDenied(p->CheckTransaction(other_chain), "generic_transaction_rules");
  // Plain transfer rule with a value cap and a key list.
  const std::string treasury = "0x3333333333333333333333333333333333333333";
  EXPECT_TRUE(p->CheckTransaction(Generic(treasury, "0x", 1000)).allowed());
  ExpectDenied(p->CheckTransaction(Generic(treasury, "0x", 1001)),
               "generic_transaction_rules[name=\"pay-treasury\"].max_value_wei");
  ExpectDenied(p->CheckTransaction(Generic(treasury, "0x12345678")), "generic_transaction_rules");
  TxIntent stranger = Generic(treasury, "0x", 1);
  stranger.from = kOther;
  ExpectDenied(p->CheckTransaction(stranger), "generic_transaction_rules[name=\"pay-treasury\"].from_addresses");
}

TEST(Policy, MessageSigning) {
  auto p = Compile(kPolicy);
  EXPECT_TRUE(p->CheckMessage(kKey, 10).allowed());
  ExpectDenied(p->CheckMessage(kOther, 1), "message_signing.from_addresses");
  EXPECT_TRUE(absl::IsInvalidArgument(p->CheckMessage(kKey, 11).status));
  auto off = Compile(R"pb(message_signing { enabled: false })pb");
  ExpectDenied(off->CheckMessage(kKey, 1), "message_signing.enabled");
  auto none = Compile("");
  ExpectDenied(none->CheckMessage(kKey, 1), "message_signing.enabled");
  ExpectDenied(none->CheckTransaction(Deploy()), "chains");
}

TEST(Policy, KeyLimitsSelection) {
  auto p = Compile(kPolicy);
  EXPECT_EQ(p->LimitsFor(kKey).rule_prefix, "keys[address=0x1111111111111111111111111111111111111111].limits");
  EXPECT_FALSE(p->LimitsFor(kKey).requests_per_second.has_value()) << "replaces the defaults as a whole";
  EXPECT_EQ(p->LimitsFor(kOther).rule_prefix, "default_key_limits");
  EXPECT_EQ(*p->LimitsFor(kOther).requests_per_second, 1.0);
}

// A policy with one generic rule on a valid chain, plus `fields` in the rule.
std::string Rule(absl::string_view fields) {
  return absl::StrCat(
      R"pb(chains { chain_id: 5 max_fee_per_gas_wei: "1" max_priority_fee_per_gas_wei: "1" max_gas_limit: 1 }
                           generic_transaction_rules { name: "x" chain_id: 5 to: "0x3333333333333333333333333333333333333333" )pb",
      fields, "}");
}

constexpr char kOwner[] = "0x5555555555555555555555555555555555555555";
constexpr char kApp[] = "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be";

// transferOwnership(address) on kApp to kOwner only, and a uint/bool/bytes32 rule for the types.
std::shared_ptr<const CompiledPolicy> MatcherPolicy() {
  return Compile(absl::StrCat(R"pb(
    chains { chain_id: 31337 max_fee_per_gas_wei: "100000000000" max_priority_fee_per_gas_wei: "10000000000" max_gas_limit: 1000000 }
    generic_transaction_rules {
      name: "hand-app-to-safe"
      chain_id: 31337
      to: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be"
      function_signature: "transferOwnership(address)"
      arguments { index: 0 equals_any: ")pb",
                              kOwner, R"pb(" }
    }
    generic_transaction_rules {
      name: "typed"
      chain_id: 31337
      to: "0x3333333333333333333333333333333333333333"
      function_signature: "f(uint16,bool,bytes32,bytes4)"
      selector: "0x)pb",
                              chain::ToHex(chain::abi::FunctionSelector("f(uint16,bool,bytes32,bytes4)"), false), R"pb("
      arguments { index: 0 min: "10" max: "1000" }
      arguments { index: 1 equals_any: "true" }
      arguments { index: 2 equals_any: [ "0x00000000000000000000000000000000000000000000000000000000000000aa", "0x00000000000000000000000000000000000000000000000000000000000000bb" ] }
    }
  )pb"));
}

// Calldata: selector of `signature` and the given 32-byte words (64 hex digits each).
std::string Call(absl::string_view signature, std::initializer_list<std::string> words) {
  std::string out = chain::ToHex(chain::abi::FunctionSelector(signature));
  for (const std::string& w : words) out += w;
  return out;
}
std::string Word(absl::string_view hex) { return std::string(64 - hex.size(), '0') + std::string(hex); }
std::string AddressWord(absl::string_view address) { return Word(address.substr(2)); }

TEST(Policy, ArgumentMatcherAllowsOnlyTheNamedNewOwner) {
  auto p = MatcherPolicy();
  const std::string sig = "transferOwnership(address)";
  Decision ok = p->CheckTransaction(Generic(kApp, Call(sig, {AddressWord(kOwner)})));
  EXPECT_TRUE(ok.allowed()) << ok.status;
  EXPECT_EQ(ok.rule, "generic_transaction_rules[name=\"hand-app-to-safe\"]");
  Decision other =
      p->CheckTransaction(Generic(kApp, Call(sig, {AddressWord("0x4444444444444444444444444444444444444444")})));
  ExpectDenied(other, "generic_transaction_rules[name=\"hand-app-to-safe\"].arguments[index=0]");
  EXPECT_THAT(std::string(other.status.message()),
              HasSubstr("arguments[index=0]: 0x4444444444444444444444444444444444444444 is not an allowed value"));
  // Trailing bytes, a missing word, a non-canonical address word (high bytes set).
  const std::string sig_rule = "generic_transaction_rules[name=\"hand-app-to-safe\"].function_signature";
  Decision trailing = p->CheckTransaction(Generic(kApp, Call(sig, {AddressWord(kOwner), "00"})));
  ExpectDenied(trailing, sig_rule);
  EXPECT_THAT(std::string(trailing.status.message()),
              HasSubstr("calldata is 37 bytes; transferOwnership(address) takes exactly 36"));
  ExpectDenied(p->CheckTransaction(Generic(kApp, Call(sig, {AddressWord(kOwner), Word("1")}))), sig_rule);
  ExpectDenied(p->CheckTransaction(Generic(kApp, Call(sig, {}))), sig_rule);
  Decision dirty = p->CheckTransaction(Generic(kApp, Call(sig, {"01" + AddressWord(kOwner).substr(2)})));
  ExpectDenied(dirty, sig_rule);
  EXPECT_THAT(std::string(dirty.status.message()), HasSubstr("is not a canonical address"));
}

TEST(Policy, ArgumentMatchersByType) {
  auto p = MatcherPolicy();
  const std::string sig = "f(uint16,bool,bytes32,bytes4)";
  const std::string to = "0x3333333333333333333333333333333333333333";
  const std::string rule = "generic_transaction_rules[name=\"typed\"]";
  const std::string bytes4 = "deadbeef" + std::string(56, '0');
  auto call = [&](std::string n, std::string b, std::string h, std::string f) {
    return p->CheckTransaction(Generic(to, Call(sig, {std::move(n), std::move(b), std::move(h), std::move(f)})));
  };
  EXPECT_TRUE(call(Word("a"), Word("1"), Word("aa"), bytes4).allowed());
  EXPECT_TRUE(call(Word("3e8"), Word("1"), Word("bb"), bytes4).allowed()) << "max is inclusive";
  Decision low = call(Word("9"), Word("1"), Word("aa"), bytes4);
  ExpectDenied(low, rule + ".arguments[index=0]");
  EXPECT_THAT(std::string(low.status.message()), HasSubstr("9 is below the minimum 10"));
  ExpectDenied(call(Word("3e9"), Word("1"), Word("aa"), bytes4), rule + ".arguments[index=0]");
  ExpectDenied(call(Word("a"), Word("0"), Word("aa"), bytes4), rule + ".arguments[index=1]");
  ExpectDenied(call(Word("a"), Word("1"), Word("cc"), bytes4), rule + ".arguments[index=2]");
  // Non-canonical words: uint16 above 2^16, bool 2, bytes4 with low bytes set.
  ExpectDenied(call(Word("1000a"), Word("1"), Word("aa"), bytes4), rule + ".function_signature");
  ExpectDenied(call(Word("a"), Word("2"), Word("aa"), bytes4), rule + ".function_signature");
  ExpectDenied(call(Word("a"), Word("1"), Word("aa"), "deadbeef" + Word("1").substr(8)), rule + ".function_signature");
}

TEST(Policy, CallersAreBoundToKeysAndIntents) {
  auto p = Compile(absl::StrCat(kPolicy, R"pb(
    callers { name: "ci" identities: [ "token:ci", "cert:ci" ] keys: "0x4444444444444444444444444444444444444444"
              intents: INTENT_GENERIC_TRANSACTION generic_rules: "pay-treasury" }
    callers { name: "reader" identities: "insecure" keys: "0x4444444444444444444444444444444444444444" })pb"));
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->binds_callers());
  EXPECT_TRUE(p->CheckCaller("uid:1000", kKey, v1::INTENT_DEPLOY_AND_REGISTER_APP).allowed());
  EXPECT_EQ(p->CheckCaller("uid:1000", kKey, v1::INTENT_ADD_COMPOSE_HASH).rule, "callers[name=\"deployer\"]");
  ExpectDenied(p->CheckCaller("uid:1000", kKey, v1::INTENT_SIGN_MESSAGE), "callers[name=\"deployer\"].intents");
  ExpectDenied(p->CheckCaller("cert:ci", kKey, v1::INTENT_GENERIC_TRANSACTION), "callers[name=\"ci\"].keys");
  ExpectDenied(p->CheckCaller("uid:1001", kKey, v1::INTENT_GENERIC_TRANSACTION), "callers");
  ExpectDenied(p->CheckCaller("insecure", kOther, v1::INTENT_GENERIC_TRANSACTION), "callers[name=\"reader\"].intents");
  EXPECT_TRUE(p->MayUseKey("insecure", kOther));
  EXPECT_FALSE(p->MayUseKey("insecure", kKey));
  EXPECT_FALSE(p->MayUseKey("uid:7", kKey));
  // CheckTransaction checks the binding first, and a binding's generic_rules narrow the rules.
  TxIntent t = Deploy();
  t.caller = "token:ci";
  ExpectDenied(p->CheckTransaction(t), "callers[name=\"ci\"].keys");
  TxIntent g = Generic(kApp, "0xf2fde38b0000");
  g.caller = "token:ci";
  g.from = kOther;
  ExpectDenied(p->CheckTransaction(g), "callers[name=\"ci\"].generic_rules");
  g.caller = "uid:1000";
  EXPECT_TRUE(p->CheckTransaction(g).allowed()) << "the deployer may use any rule";
  // Without `callers`: every caller may use every key (compatibility; a warning at load).
  auto open = Compile(R"pb(message_signing { enabled: true })pb");
  EXPECT_FALSE(open->binds_callers());
  EXPECT_TRUE(open->CheckCaller("uid:7", kKey, v1::INTENT_SIGN_MESSAGE).allowed());
  EXPECT_TRUE(open->MayUseKey("uid:7", kKey));
}

TEST(Policy, InvalidPoliciesNameTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"pb(chains { chain_id: 0 })pb", "chains[0].chain_id"},
      {R"pb(chains { chain_id: 1 max_fee_per_gas_wei: "1" max_priority_fee_per_gas_wei: "1" max_gas_limit: 1 }
            chains { chain_id: 1 max_fee_per_gas_wei: "1" max_priority_fee_per_gas_wei: "1" max_gas_limit: 1 })pb",
       "chains[1].chain_id"},
      {R"pb(chains { chain_id: 1 max_fee_per_gas_wei: "01" max_priority_fee_per_gas_wei: "1" max_gas_limit: 1 })pb",
       "chains[0].max_fee_per_gas_wei"},
      {R"pb(chains { chain_id: 1 max_fee_per_gas_wei: "1" max_priority_fee_per_gas_wei: "-1" max_gas_limit: 1 })pb",
       "chains[0].max_priority_fee_per_gas_wei"},
      {R"pb(chains { chain_id: 1 max_fee_per_gas_wei: "1" max_priority_fee_per_gas_wei: "1" })pb",
       "chains[0].max_gas_limit"},
      {R"pb(chains { chain_id: 1 max_fee_per_gas_wei: "1" max_priority_fee_per_gas_wei: "1" max_gas_limit: 1
                     kms_contract_addresses: "0x5fbdb2315678afecb367f032d93F642f64180aa3" })pb",
       "chains[0].kms_contract_addresses[0]"},
      {R"pb(default_key_limits { rate_limit { requests_per_second: 0 burst: 1 } })pb",
       "default_key_limits.rate_limit.requests_per_second"},
      {R"pb(default_key_limits { rate_limit { requests_per_second: 1 burst: 0 } })pb",
       "default_key_limits.rate_limit.burst"},
      {R"pb(keys { address: "0x1" })pb", "keys[0].address"},
      {R"pb(generic_transaction_rules { name: "x" chain_id: 5 to: "0x3333333333333333333333333333333333333333" })pb",
       "generic_transaction_rules[0].chain_id"},
      {R"pb(generic_transaction_rules { chain_id: 5 })pb", "generic_transaction_rules[0].name"},
      {R"pb(default_key_limits { value_budget_24h_wei: "1e18" })pb", "default_key_limits.value_budget_24h_wei"},
      {Rule(R"pb(function_signature: "transferOwnership(address")pb"),
       "generic_transaction_rules[0].function_signature"},
      {Rule(R"pb(function_signature: "transferOwnership(address newOwner)")pb"),
       "generic_transaction_rules[0].function_signature: argument 0: unknown type"},
      {Rule(R"pb(function_signature: "f(bytes)")pb"), "function_signature: argument 0: \"bytes\" is dynamic"},
      {Rule(R"pb(function_signature: "f(address,string)")pb"), "function_signature: argument 1: \"string\" is dynamic"},
      {Rule(R"pb(function_signature: "f(uint256[])")pb"), "\"uint256[]\" is dynamic or composite"},
      {Rule(R"pb(function_signature: "f(uint)")pb"), "write \"uint256\""},
      {Rule(R"pb(function_signature: "f(int256)")pb"), "signed integer \"int256\" is not supported"},
      {Rule(R"pb(function_signature: "f(uint7)")pb"), "unknown type \"uint7\""},
      {Rule(R"pb(function_signature: "transferOwnership(address)" selector: "0xdeadbeef")pb"),
       "generic_transaction_rules[0].selector: \"0xdeadbeef\" is not the selector of transferOwnership(address) "
       "(0xf2fde38b)"},
      {Rule(R"pb(arguments { index: 0 equals_any: "0x1111111111111111111111111111111111111111" })pb"),
       "generic_transaction_rules[0].arguments: needs function_signature"},
      {Rule(R"pb(function_signature: "f(address)" arguments { index: 1 equals_any: "true" })pb"),
       "generic_transaction_rules[0].arguments[0].index: 1 is past the last argument of f(address)"},
      {Rule(R"pb(function_signature: "f(address)" arguments { index: 0 equals_any: "0x12" })pb"),
       "generic_transaction_rules[0].arguments[0].equals_any[0]: address"},
      {Rule(R"pb(function_signature: "f(address)" arguments { index: 0 min: "1" })pb"),
       "generic_transaction_rules[0].arguments[0].min: only for uintN, not address"},
      {Rule(R"pb(function_signature: "f(uint8)" arguments { index: 0 max: "256" })pb"),
       "generic_transaction_rules[0].arguments[0].max: uint8: does not fit in uint8"},
      {Rule(R"pb(function_signature: "f(uint8)" arguments { index: 0 min: "9" max: "8" })pb"),
       "generic_transaction_rules[0].arguments[0].min: greater than max"},
      {Rule(R"pb(function_signature: "f(bool)" arguments { index: 0 })pb"),
       "generic_transaction_rules[0].arguments[0]: needs equals_any, min or max"},
      {Rule(R"pb(function_signature: "f(bool,bool)" arguments { index: 0 equals_any: "true" }
                 arguments { index: 0 equals_any: "false" })pb"),
       "generic_transaction_rules[0].arguments[1].index: argument 0 already has a matcher"},
      {Rule(R"pb(function_signature: "f(bytes4)" arguments { index: 0 equals_any: "0x1234" })pb"),
       "generic_transaction_rules[0].arguments[0].equals_any[0]: bytes4: want \"0x\" + 8 hex digits"},
      {R"pb(callers { identities: "uid:1" keys: "0x1111111111111111111111111111111111111111" })pb", "callers[0].name"},
      {R"pb(callers { name: "a" keys: "0x1111111111111111111111111111111111111111" })pb", "callers[0].identities"},
      {R"pb(callers { name: "a" identities: "1000" keys: "0x1111111111111111111111111111111111111111" })pb",
       "callers[0].identities[0]: \"1000\" is not a caller identity"},
      {R"pb(callers { name: "a" identities: "uid:1" })pb", "callers[0].keys: at least one"},
      {R"pb(callers { name: "a" identities: "uid:1" keys: "0x12" })pb", "callers[0].keys[0]"},
      {R"pb(callers { name: "a" identities: "uid:1" keys: "0x1111111111111111111111111111111111111111" }
            callers { name: "b" identities: [ "cert:x", "uid:1" ] keys: "0x1111111111111111111111111111111111111111" })pb",
       "callers[1].identities[1]: \"uid:1\" is already bound"},
      {R"pb(callers { name: "a" identities: "uid:1" keys: "0x1111111111111111111111111111111111111111" }
            callers { name: "a" identities: "uid:2" keys: "0x1111111111111111111111111111111111111111" })pb",
       "callers[1].name: duplicate"},
      {R"pb(callers { name: "a" identities: "uid:1" keys: "0x1111111111111111111111111111111111111111"
                      intents: INTENT_UNSPECIFIED })pb",
       "callers[0].intents[0]: unspecified"},
      {R"pb(callers { name: "a" identities: "uid:1" keys: "0x1111111111111111111111111111111111111111"
                      intents: INTENT_ADD_COMPOSE_HASH generic_rules: "x" })pb",
       "callers[0].generic_rules[0]: needs INTENT_GENERIC_TRANSACTION"},
      {R"pb(callers { name: "a" identities: "uid:1" keys: "0x1111111111111111111111111111111111111111"
                      intents: INTENT_GENERIC_TRANSACTION generic_rules: "nope" })pb",
       "callers[0].generic_rules[0]: no generic_transaction_rules entry is named \"nope\""},
  };
  for (const auto& [text, field] : cases) {
    v1::Policy policy;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &policy)) << text;
    absl::Status s = CompiledPolicy::Compile(policy).status();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << text;
    EXPECT_THAT(std::string(s.message()), HasSubstr(field)) << text;
  }
}

TEST(UsageTracker, RateLimitTokenBucket) {
  absl::Time now = absl::FromUnixSeconds(1000);
  UsageTracker tracker([&] { return now; });
  auto p = Compile(kPolicy);
  const KeyLimits& limits = p->LimitsFor(kOther);  // 1/s, burst 2
  EXPECT_TRUE(tracker.TakeRequest(kOther, limits).allowed());
  EXPECT_TRUE(tracker.TakeRequest(kOther, limits).allowed());
  Decision d = tracker.TakeRequest(kOther, limits);
  EXPECT_TRUE(absl::IsResourceExhausted(d.status));
  EXPECT_EQ(d.rule, "default_key_limits.rate_limit");
  EXPECT_THAT(std::string(d.status.message()), HasSubstr("default_key_limits.rate_limit"));
  now += absl::Seconds(1);
  EXPECT_TRUE(tracker.TakeRequest(kOther, limits).allowed());
  EXPECT_FALSE(tracker.TakeRequest(kOther, limits).allowed());
  // A key without a rate limit is never limited.
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(tracker.TakeRequest(kKey, p->LimitsFor(kKey)).allowed());
}

TEST(UsageTracker, ASharedBucketDecidesWhenSet) {
  UsageTracker tracker;
  auto p = Compile(kPolicy);
  const KeyLimits& limits = p->LimitsFor(kOther);  // 1/s, burst 2
  absl::StatusOr<bool> answer = false;
  tracker.UseSharedBucket([&](const chain::Address& key, double rate, uint32_t burst) {
    EXPECT_EQ(key, kOther);
    EXPECT_EQ(rate, 1.0);
    EXPECT_EQ(burst, 2u);
    return answer;
  });
  Decision d = tracker.TakeRequest(kOther, limits);
  EXPECT_TRUE(absl::IsResourceExhausted(d.status)) << "the shared bucket is empty, the local one is full";
  EXPECT_EQ(d.rule, "default_key_limits.rate_limit");
  answer = true;
  EXPECT_TRUE(tracker.TakeRequest(kOther, limits).allowed());
  answer = absl::UnavailableError("database down");
  EXPECT_TRUE(absl::IsUnavailable(tracker.TakeRequest(kOther, limits).status)) << "fails closed";
  EXPECT_TRUE(tracker.TakeRequest(kKey, p->LimitsFor(kKey)).allowed()) << "no rate limit: not asked";
}

TEST(UsageTracker, RollingFeeBudget) {
  absl::Time now = absl::FromUnixSeconds(100000);
  UsageTracker tracker([&] { return now; });
  auto p = Compile(kPolicy);
  const KeyLimits& limits = p->LimitsFor(kOther);  // budget 1,000,000
  std::string rule;
  absl::StatusOr<uint64_t> c1 = tracker.Charge(kOther, chain::U256(600000), limits, &rule);
  ASSERT_TRUE(c1.ok());
  now += absl::Hours(12);
  absl::StatusOr<uint64_t> c2 = tracker.Charge(kOther, chain::U256(400000), limits, &rule);
  ASSERT_TRUE(c2.ok()) << "exactly the budget";
  absl::StatusOr<uint64_t> c3 = tracker.Charge(kOther, chain::U256(1), limits, &rule);
  EXPECT_TRUE(absl::IsResourceExhausted(c3.status()));
  EXPECT_EQ(rule, "default_key_limits.fee_budget_24h_wei");
  EXPECT_THAT(std::string(c3.status().message()), HasSubstr("default_key_limits.fee_budget_24h_wei"));
  tracker.Refund(kOther, *c2);
  EXPECT_EQ(tracker.Committed24h(kOther), chain::U256(600000));
  EXPECT_TRUE(tracker.Charge(kOther, chain::U256(400000), limits, &rule).ok());
  now += absl::Hours(12) + absl::Seconds(1);  // the first charge leaves the window
  EXPECT_EQ(tracker.Committed24h(kOther), chain::U256(400000));
  EXPECT_TRUE(tracker.Charge(kOther, chain::U256(600000), limits, &rule).ok());
  // Replayed history counts.
  UsageTracker fresh([&] { return now; });
  fresh.Record(kOther, now - absl::Hours(1), chain::U256(999999));
  fresh.Record(kOther, now - absl::Hours(25), chain::U256(999999));  // too old
  EXPECT_EQ(fresh.Committed24h(kOther), chain::U256(999999));
  EXPECT_FALSE(fresh.Charge(kOther, chain::U256(2), limits, &rule).ok());
}

TEST(UsageTracker, RollingValueBudget) {
  absl::Time now = absl::FromUnixSeconds(100000);
  UsageTracker tracker([&] { return now; });
  auto p = Compile(absl::StrCat(kPolicy, R"pb(keys {
                                               address: "0x4444444444444444444444444444444444444444"
                                               limits { value_budget_24h_wei: "1000" }
                                             })pb"));
  const KeyLimits& limits = p->LimitsFor(kOther);
  std::string rule;
  absl::StatusOr<uint64_t> c1 = tracker.Charge(kOther, {chain::U256(5), chain::U256(700)}, limits, &rule);
  ASSERT_TRUE(c1.ok()) << c1.status();
  EXPECT_EQ(rule, "keys[address=0x4444444444444444444444444444444444444444].limits.value_budget_24h_wei");
  absl::StatusOr<uint64_t> c2 = tracker.Charge(kOther, {chain::U256(5), chain::U256(301)}, limits, &rule);
  EXPECT_TRUE(absl::IsResourceExhausted(c2.status()));
  EXPECT_THAT(std::string(c2.status().message()),
              HasSubstr("value budget keys[address=0x4444444444444444444444444444444444444444].limits."
                        "value_budget_24h_wei exhausted"));
  EXPECT_EQ(tracker.Committed24h(kOther), chain::U256(5)) << "a refused charge charges no fee either";
  EXPECT_TRUE(tracker.Charge(kOther, {chain::U256(5), chain::U256(300)}, limits, &rule).ok());
  tracker.Refund(kOther, *c1);
  EXPECT_EQ(tracker.CommittedValue24h(kOther), chain::U256(300));
  EXPECT_EQ(tracker.Committed24h(kOther), chain::U256(5));
  now += absl::Hours(24);
  EXPECT_TRUE(tracker.CommittedValue24h(kOther).IsZero());
  UsageTracker fresh([&] { return now; });
  fresh.Record(kOther, now - absl::Hours(1), chain::U256(), chain::U256(1000));
  EXPECT_FALSE(fresh.Charge(kOther, {chain::U256(), chain::U256(1)}, limits, &rule).ok()) << "replayed values count";
}

TEST(PolicyHolder, InvalidReloadKeepsTheOldPolicy) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/policy.textproto";
  { std::ofstream(path) << kPolicy; }
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> first = LoadPolicyFile(path);
  ASSERT_TRUE(first.ok()) << first.status();
  PolicyHolder holder(*first);
  auto snapshot = holder.Get();
  { std::ofstream(path) << "chains { chain_id: 0 }"; }
  absl::Status s = holder.Reload(path);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr("chains[0].chain_id"));
  EXPECT_EQ(holder.Get(), snapshot) << "old policy kept";
  { std::ofstream(path) << "not a policy {"; }
  EXPECT_FALSE(holder.Reload(path).ok());
  EXPECT_EQ(holder.Get(), snapshot);
  { std::ofstream(path) << R"pb(message_signing { enabled: true })pb"; }
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(holder.Reload(path).ok());
  const std::string warning = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(warning, HasSubstr("the policy binds no callers"));
  EXPECT_THAT(warning, HasSubstr("callers { name:"));
  { std::ofstream(path) << kPolicy; }
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(LoadPolicyFile(path).ok());
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), ::testing::Not(HasSubstr("binds no callers")))
      << "no warning for a policy with callers";
  { std::ofstream(path) << R"pb(message_signing { enabled: true })pb"; }
  EXPECT_NE(holder.Get(), snapshot);
  EXPECT_TRUE(holder.Get()->CheckMessage(kOther, 1).allowed());
  EXPECT_TRUE(snapshot->CheckTransaction(Deploy()).allowed()) << "a request's snapshot stays valid";
}

}  // namespace
}  // namespace signer::policy
