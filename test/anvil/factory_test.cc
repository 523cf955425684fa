// The test contracts on anvil, driven with the real cast as an independent client: the factory
// transaction's logs (order, emitters, topics, data), the resulting state, owner-only reverts,
// the KMS test knobs, and gas against the facts (dstack-contracts.md §2.3, §3.3, §6).
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "test/anvil/artifacts.h"
#include "test/anvil/harness.h"

namespace anvil {
namespace {

namespace json = boost::json;

// topic0 values from the facts.
constexpr char kUpgraded[] = "0xbc7cd75a20ee27fd9adebab32041f755214dbc6bffa90cc0225b39da2e5c2d3b";
constexpr char kDeviceAdded[] = "0x67fc71ab96fe3fa3c6f78e9a00e635d591b7333ce611c0380bc577aac702243b";
constexpr char kComposeHashAdded[] = "0xfecb34306dd9d8b785b54d65489d06afc8822a0893ddacedff40c50a4942d0af";
constexpr char kOwnershipTransferred[] = "0x8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e0";
constexpr char kInitialized[] = "0xc7f505b2f371ae2175ee4913f4499e1f2633a7b5936321eed1cdaeb6115181d2";
constexpr char kAppRegistered[] = "0x0d540ad8f39e07d19909687352b9fa017405d93c91a6760981fbae9cf28bfef7";
constexpr char kAppDeployedViaFactory[] = "0xfd86d7f6962eba3b7a3bf9129c06c0b2f885e1c61ef2c9f0dbb856be0deefdee";
constexpr char kPolicyChanged[] = "0x341d3bc64e32172fc5bcf27b0f7f69dc5adc19af64b7aa1dee361e5883c32375";
constexpr char kRegisteredAppKey[] = "0x1a61f88f2e67632c1bf4321c88aec40bbf788e2b1a14b69f1186e6a3a31d9028";
constexpr char kImplementationSlot[] = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";

constexpr char kDeploy5[] = "deployAndRegisterApp(address,bool,bool,bytes32,bytes32)";
constexpr char kDeploy6[] = "deployAndRegisterApp(address,bool,bool,bool,bytes32,bytes32)";
constexpr char kDevice[] = "0xdddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
constexpr char kHash[] = "0x1111111111111111111111111111111111111111111111111111111111111111";
constexpr char kHash2[] = "0x2222222222222222222222222222222222222222222222222222222222222222";
constexpr char kZero32[] = "0x0000000000000000000000000000000000000000000000000000000000000000";
constexpr char kZeroAddress[] = "0x0000000000000000000000000000000000000000";

std::string Word(absl::string_view hex) { return "0x" + AbiWord(hex); }

struct Log {
  std::string address;
  std::vector<std::string> topics;
  std::string data;
};

std::string Str(const json::value& v) { return Lower(std::string(v.as_string())); }

std::vector<Log> Logs(const json::object& receipt) {
  std::vector<Log> out;
  for (const json::value& l : receipt.at("logs").as_array()) {
    Log log{Str(l.at("address")), {}, Str(l.at("data"))};
    for (const json::value& t : l.at("topics").as_array()) log.topics.push_back(Str(t));
    out.push_back(std::move(log));
  }
  return out;
}

uint64_t GasUsed(const json::object& receipt) {
  absl::StatusOr<uint64_t> g = ParseQuantity(std::string(receipt.at("gasUsed").as_string()));
  return g.ok() ? *g : 0;
}

class FactoryTest : public testing::Test {
 protected:
  void SetUp() override { Start(31337); }

  void Start(uint64_t chain_id) {
    absl::StatusOr<std::unique_ptr<Anvil>> a = Anvil::Start({.chain_id = chain_id});
    ASSERT_TRUE(a.ok()) << a.status();
    anvil_ = *std::move(a);
    kms_ = anvil_->chain().kms_address;
    url_ = anvil_->chain().rpc_url;
  }

  // cast, failing the test on a non-zero exit.
  std::string Cast(const std::vector<std::string>& args) {
    absl::StatusOr<std::string> out = RunCast(args);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : "";
  }

  // `cast send --async` then `cast receipt --json`, as a test would check any transaction.
  json::object Send(const std::string& key, const std::string& to, const std::vector<std::string>& call) {
    std::vector<std::string> args = {"send", "--async", "--rpc-url", url_, "--private-key", key, to};
    args.insert(args.end(), call.begin(), call.end());
    const std::string hash = Cast(args);
    const std::string text = Cast({"receipt", "--json", "--rpc-url", url_, hash});
    json::error_code ec;
    json::value v = json::parse(text, ec);
    EXPECT_FALSE(ec) << text;
    return v.is_object() ? v.as_object() : json::object();
  }

  json::object Deploy5(const std::string& owner, const std::string& allow_any, const std::string& device,
                       const std::string& hash, const std::string& key = kDeployerPrivateKey) {
    return Send(key, kms_, {kDeploy5, owner, "false", allow_any, device, hash});
  }

  std::string CallView(const std::string& to, const std::vector<std::string>& call) {
    std::vector<std::string> args = {"call", "--rpc-url", url_, to};
    args.insert(args.end(), call.begin(), call.end());
    return Lower(Cast(args));
  }

  // The eth_call revert of `calldata` sent by `from`: the error's data field.
  std::string RevertData(const std::string& to, const std::string& calldata, const std::string& from) {
    absl::StatusOr<RpcResponse> r =
        anvil_->CallRaw("eth_call", {json::object{{"from", from}, {"to", to}, {"data", calldata}}, "latest"});
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || !r->error) {
      ADD_FAILURE() << "expected a revert, got " << (r.ok() ? json::serialize(r->result) : "");
      return "";
    }
    EXPECT_EQ(r->error->code, 3) << r->error->message;
    return r->error->data.is_string() ? Lower(std::string(r->error->data.as_string())) : "";
  }

  std::string Calldata(const std::vector<std::string>& sig_and_args) {
    std::vector<std::string> args = {"calldata"};
    args.insert(args.end(), sig_and_args.begin(), sig_and_args.end());
    return Lower(Cast(args));
  }

  void SetKnob(const std::vector<std::string>& call) {
    json::object r = Send(kDeployerPrivateKey, kms_, call);
    ASSERT_EQ(Str(r.at("status")), "0x1") << call.at(0);
  }

  // The CREATE address of the KMS at `nonce` ("Computed Address: 0x..." from cast).
  std::string KmsCreateAddress(int nonce) {
    const std::string out = Lower(Cast({"compute-address", kms_, "--nonce", absl::StrCat(nonce)}));
    return out.size() >= 42 ? out.substr(out.size() - 42) : out;
  }

  std::unique_ptr<Anvil> anvil_;
  std::string kms_;
  std::string url_;
};

// The last 20 bytes of a topic or word, as a 0x-address.
std::string AddressOf(const std::string& word) { return "0x" + word.substr(word.size() - 40); }

class FactoryLogsTest : public FactoryTest, public testing::WithParamInterface<uint64_t> {
 protected:
  void SetUp() override { Start(GetParam()); }
};

TEST_P(FactoryLogsTest, DeployEmitsFactsLogOrderAndSetsState) {
  // Owner (#1) differs from the sender (#0), so the test can tell them apart.
  const std::string predicted = KmsCreateAddress(1);
  EXPECT_EQ(CallView(kms_, {kDeploy5, kSecondAddress, "false", "false", kDevice, kHash}), Word(predicted));

  json::object receipt = Deploy5(kSecondAddress, "false", kDevice, kHash);
  ASSERT_EQ(Str(receipt.at("status")), "0x1");
  const std::vector<Log> logs = Logs(receipt);
  ASSERT_EQ(logs.size(), 7u);
  const std::string app = AddressOf(logs[6].topics.at(1));
  EXPECT_EQ(app, predicted);  // appId = CREATE address of the KMS at nonce 1
  const std::string impl = anvil_->chain().app_implementation;

  // 1-5: the app, in the facts' order.
  EXPECT_EQ(logs[0].address, app);
  EXPECT_EQ(logs[0].topics, (std::vector<std::string>{kUpgraded, Word(impl)}));
  EXPECT_EQ(logs[0].data, "0x");
  EXPECT_EQ(logs[1].address, app);
  EXPECT_EQ(logs[1].topics, (std::vector<std::string>{kDeviceAdded}));
  EXPECT_EQ(logs[1].data, kDevice);
  EXPECT_EQ(logs[2].address, app);
  EXPECT_EQ(logs[2].topics, (std::vector<std::string>{kComposeHashAdded}));
  EXPECT_EQ(logs[2].data, kHash);
  EXPECT_EQ(logs[3].address, app);
  EXPECT_EQ(logs[3].topics,
            (std::vector<std::string>{kOwnershipTransferred, Word(kZeroAddress), Word(kSecondAddress)}));
  EXPECT_EQ(logs[3].data, "0x");
  EXPECT_EQ(logs[4].address, app);
  EXPECT_EQ(logs[4].topics, (std::vector<std::string>{kInitialized}));
  EXPECT_EQ(logs[4].data, Word("0x1"));
  // 6-7: the KMS; AppRegistered not indexed, then AppDeployedViaFactory(appId, msg.sender) last.
  EXPECT_EQ(logs[5].address, kms_);
  EXPECT_EQ(logs[5].topics, (std::vector<std::string>{kAppRegistered}));
  EXPECT_EQ(logs[5].data, Word(app));
  EXPECT_EQ(logs[6].address, kms_);
  EXPECT_EQ(logs[6].topics, (std::vector<std::string>{kAppDeployedViaFactory, Word(app), Word(kDeployerAddress)}));
  EXPECT_EQ(logs[6].data, "0x");

  // State.
  EXPECT_EQ(CallView(kms_, {"registeredApps(address)(bool)", app}), "true");
  EXPECT_EQ(CallView(app, {"owner()(address)"}), kSecondAddress);
  EXPECT_EQ(CallView(app, {"allowedComposeHashes(bytes32)(bool)", kHash}), "true");
  EXPECT_EQ(CallView(app, {"allowedComposeHashes(bytes32)(bool)", kHash2}), "false");
  EXPECT_EQ(CallView(app, {"allowedDeviceIds(bytes32)(bool)", kDevice}), "true");
  EXPECT_EQ(CallView(app, {"allowAnyDevice()(bool)"}), "false");
  EXPECT_EQ(CallView(app, {"requireTcbUpToDate()(bool)"}), "false");
  EXPECT_EQ(CallView(app, {"version()(uint256)"}), "2");
  // The app is a small proxy whose ERC-1967 slot names the implementation.
  EXPECT_EQ(Lower(Cast({"storage", "--rpc-url", url_, app, kImplementationSlot})), Word(impl));
  EXPECT_EQ(Lower(Cast({"code", "--rpc-url", url_, app})), LoadArtifact("DstackAppProxy")->deployed_bytecode);

  // The next app takes the next nonce.
  json::object second = Deploy5(kDeployerAddress, "false", kZero32, kHash);
  EXPECT_EQ(AddressOf(Logs(second).back().topics.at(1)), KmsCreateAddress(2));

  std::cout << "chain " << GetParam() << ": deployAndRegisterApp 5-arg device+hash gasUsed=" << GasUsed(receipt)
            << " (facts 2026-02: 251,328)\n";
  EXPECT_GT(GasUsed(receipt), 200000u);
  EXPECT_LT(GasUsed(receipt), 300000u);
}

INSTANTIATE_TEST_SUITE_P(ChainIds, FactoryLogsTest, testing::Values(31337, 1, 8453),
                         [](const testing::TestParamInfo<uint64_t>& i) { return absl::StrCat("chain", i.param); });

TEST_F(FactoryTest, ZeroDeviceAndHashAreSkippedWithoutLogs) {
  json::object any = Deploy5(kDeployerAddress, "true", kZero32, kHash);
  std::vector<Log> logs = Logs(any);
  ASSERT_EQ(logs.size(), 6u);
  EXPECT_EQ(logs[1].topics.at(0), kComposeHashAdded);
  const std::string app = AddressOf(logs.back().topics.at(1));
  EXPECT_EQ(CallView(app, {"allowAnyDevice()(bool)"}), "true");
  EXPECT_EQ(CallView(app, {"allowedDeviceIds(bytes32)(bool)", kZero32}), "false");

  json::object none = Deploy5(kDeployerAddress, "false", kZero32, kZero32);
  logs = Logs(none);
  ASSERT_EQ(logs.size(), 5u);
  EXPECT_EQ(logs[0].topics.at(0), kUpgraded);
  EXPECT_EQ(logs[1].topics.at(0), kOwnershipTransferred);
  EXPECT_EQ(logs[4].topics.at(0), kAppDeployedViaFactory);
  std::cout << "deploy 5-arg device=0 hash set allowAny=true gasUsed=" << GasUsed(any) << " (facts: 247,954)\n"
            << "deploy 5-arg both zero gasUsed=" << GasUsed(none) << " (facts: 224,665)\n";
}

TEST_F(FactoryTest, SixArgOverloadSetsRequireTcbUpToDate) {
  json::object r =
      Send(kDeployerPrivateKey, kms_, {kDeploy6, kSecondAddress, "false", "true", "false", kDevice, kHash});
  ASSERT_EQ(Str(r.at("status")), "0x1");
  const std::vector<Log> logs = Logs(r);
  ASSERT_EQ(logs.size(), 7u);
  const std::string app = AddressOf(logs.back().topics.at(1));
  EXPECT_EQ(CallView(app, {"requireTcbUpToDate()(bool)"}), "true");
  EXPECT_EQ(CallView(app, {"owner()(address)"}), kSecondAddress);
  std::cout << "deploy 6-arg tcb=true device+hash gasUsed=" << GasUsed(r) << " (facts 2026-02: 271,417)\n";
}

TEST_F(FactoryTest, AddComposeHashIsOwnerOnlyIdempotentAndAlwaysLogs) {
  const std::string app = AddressOf(Logs(Deploy5(kSecondAddress, "false", kZero32, kHash)).back().topics.at(1));
  const std::string add = Calldata({"addComposeHash(bytes32)", kHash2});
  EXPECT_EQ(add, "0xdfc77223" + AbiWord(kHash2));

  // Not the owner: OwnableUnauthorizedAccount(caller), no revert string.
  EXPECT_EQ(RevertData(app, add, kDeployerAddress), "0x118cdaa7" + AbiWord(kDeployerAddress));
  // Sent anyway with a fixed gas limit: mined with status 0 and no logs.
  absl::StatusOr<std::string> hash = anvil_->SendTransaction({.to = app, .data = add, .gas = 100000});
  ASSERT_TRUE(hash.ok()) << hash.status();
  absl::StatusOr<json::object> failed = anvil_->WaitForReceipt(*hash);
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(Str(failed->at("status")), "0x0");
  EXPECT_TRUE(failed->at("logs").as_array().empty());

  // The owner: exactly one ComposeHashAdded(hash) from the app, also for a repeat.
  json::object first = Send(kSecondPrivateKey, app, {"addComposeHash(bytes32)", kHash2});
  json::object again = Send(kSecondPrivateKey, app, {"addComposeHash(bytes32)", kHash2});
  for (const json::object* r : {&first, &again}) {
    ASSERT_EQ(Str(r->at("status")), "0x1");
    const std::vector<Log> logs = Logs(*r);
    ASSERT_EQ(logs.size(), 1u);
    EXPECT_EQ(logs[0].address, app);
    EXPECT_EQ(logs[0].topics, (std::vector<std::string>{kComposeHashAdded}));
    EXPECT_EQ(logs[0].data, kHash2);
  }
  EXPECT_EQ(CallView(app, {"allowedComposeHashes(bytes32)(bool)", kHash2}), "true");

  json::object removed = Send(kSecondPrivateKey, app, {"removeComposeHash(bytes32)", kHash2});
  EXPECT_EQ(CallView(app, {"allowedComposeHashes(bytes32)(bool)", kHash2}), "false");
  json::object device = Send(kSecondPrivateKey, app, {"addDevice(bytes32)", kDevice});
  json::object any = Send(kSecondPrivateKey, app, {"setAllowAnyDevice(bool)", "false"});

  std::cout << "addComposeHash new gasUsed=" << GasUsed(first) << " (facts 2026-02: 51,885)\n"
            << "addComposeHash again gasUsed=" << GasUsed(again) << " (facts: 31,985)\n"
            << "removeComposeHash gasUsed=" << GasUsed(removed) << " (facts: 29,908)\n"
            << "addDevice gasUsed=" << GasUsed(device) << " (facts: 51,817)\n"
            << "setAllowAnyDevice(false) gasUsed=" << GasUsed(any) << " (facts: 29,985)\n";
  EXPECT_GT(GasUsed(first), 45000u);
  EXPECT_LT(GasUsed(first), 60000u);

  // transferOwnership is one-step (pre-2026-05 behaviour): the new owner can act at once.
  json::object moved = Send(kSecondPrivateKey, app, {"transferOwnership(address)", kDeployerAddress});
  ASSERT_EQ(Logs(moved).size(), 1u);
  EXPECT_EQ(Logs(moved)[0].topics,
            (std::vector<std::string>{kOwnershipTransferred, Word(kSecondAddress), Word(kDeployerAddress)}));
  EXPECT_EQ(CallView(app, {"owner()(address)"}), kDeployerAddress);
}

TEST_F(FactoryTest, RevertEncodings) {
  // Zero owner: Error(string) "Invalid owner address".
  const std::string deploy_zero = Calldata({kDeploy5, kZeroAddress, "false", "false", kZero32, kHash});
  EXPECT_EQ(RevertData(kms_, deploy_zero, kDeployerAddress), Calldata({"Error(string)", "Invalid owner address"}));
  // The implementation and the apps cannot be initialized again: InvalidInitialization().
  const std::string app = AddressOf(Logs(Deploy5(kDeployerAddress, "false", kZero32, kHash)).back().topics.at(1));
  const std::string init =
      Calldata({"initialize(address,bool,bool,bytes32,bytes32)", kSecondAddress, "false", "false", kZero32, kHash});
  EXPECT_EQ(RevertData(app, init, kSecondAddress), "0xf92ee8a9");
  EXPECT_EQ(RevertData(anvil_->chain().app_implementation, init, kSecondAddress), "0xf92ee8a9");
  // KMS admin is owner-only too.
  EXPECT_EQ(RevertData(kms_, Calldata({"testSetSkipFactoryEvent(bool)", "true"}), kSecondAddress),
            "0x118cdaa7" + AbiWord(kSecondAddress));
}

// ---- test knobs ----

TEST_F(FactoryTest, KnobSkipFactoryEvent) {
  SetKnob({"testSetSkipFactoryEvent(bool)", "true"});
  const std::vector<Log> logs = Logs(Deploy5(kDeployerAddress, "false", kZero32, kHash));
  ASSERT_EQ(logs.size(), 5u);
  EXPECT_EQ(logs.back().topics.at(0), kAppRegistered);
  for (const Log& l : logs) EXPECT_NE(l.topics.at(0), kAppDeployedViaFactory);
}

TEST_F(FactoryTest, KnobDoubleFactoryEvent) {
  SetKnob({"testSetDoubleFactoryEvent(bool)", "true"});
  const std::vector<Log> logs = Logs(Deploy5(kDeployerAddress, "false", kZero32, kHash));
  ASSERT_EQ(logs.size(), 7u);
  EXPECT_EQ(logs[5].address, kms_);
  EXPECT_EQ(logs[5].topics.at(0), kAppDeployedViaFactory);
  EXPECT_EQ(logs[5].topics, logs[6].topics);
  EXPECT_EQ(logs[6].address, kms_);
}

TEST_F(FactoryTest, KnobExtraLogBeforeFactoryEvent) {
  SetKnob({"testSetExtraLogBeforeFactoryEvent(bool)", "true"});
  const std::vector<Log> logs = Logs(Deploy5(kDeployerAddress, "false", kZero32, kHash));
  ASSERT_EQ(logs.size(), 7u);
  const std::string app = AddressOf(logs[6].topics.at(1));
  // HEAD's PolicyChanged(actor = tx sender, "registered-app", appId, true), as the facts give it.
  EXPECT_EQ(logs[5].address, kms_);
  EXPECT_EQ(logs[5].topics,
            (std::vector<std::string>{kPolicyChanged, Word(kDeployerAddress), kRegisteredAppKey, Word(app)}));
  EXPECT_EQ(logs[5].data, Word("0x1"));
  EXPECT_EQ(logs[4].topics.at(0), kAppRegistered);
  EXPECT_EQ(logs[6].topics.at(0), kAppDeployedViaFactory);
}

TEST_F(FactoryTest, KnobDecoyEmitsLookAlikeFromAnotherAddress) {
  absl::StatusOr<ContractArtifact> decoy_code = LoadArtifact("KmsDecoy");
  ASSERT_TRUE(decoy_code.ok());
  absl::StatusOr<std::string> decoy = anvil_->Deploy(decoy_code->bytecode);
  ASSERT_TRUE(decoy.ok()) << decoy.status();
  SetKnob({"testSetDecoy(address)", *decoy});
  EXPECT_EQ(Lower(CallView(kms_, {"testKnobs()(bool,bool,bool,uint8,address)"})),
            absl::StrCat("false\nfalse\nfalse\n0\n", *decoy));

  const std::vector<Log> logs = Logs(Deploy5(kDeployerAddress, "false", kZero32, kHash));
  ASSERT_EQ(logs.size(), 7u);
  // A topic-only parser (the JS SDK's) would take the decoy's "appId"; the KMS's log is last.
  EXPECT_EQ(logs[5].address, *decoy);
  EXPECT_EQ(logs[5].topics, (std::vector<std::string>{kAppDeployedViaFactory, Word(*decoy), Word(kDeployerAddress)}));
  EXPECT_EQ(logs[6].address, kms_);
  EXPECT_EQ(logs[6].topics.at(0), kAppDeployedViaFactory);
  EXPECT_NE(logs[6].topics.at(1), logs[5].topics.at(1));
  EXPECT_EQ(CallView(kms_, {"registeredApps(address)(bool)", AddressOf(logs[6].topics.at(1))}), "true");
}

TEST_F(FactoryTest, KnobRevertModes) {
  const std::string deploy = Calldata({kDeploy5, kDeployerAddress, "false", "false", kZero32, kHash});
  SetKnob({"testSetRevertMode(uint8)", "1"});
  EXPECT_EQ(RevertData(kms_, deploy, kSecondAddress), Calldata({"TestKnobRevert(address)", kSecondAddress}));
  SetKnob({"testSetRevertMode(uint8)", "2"});
  EXPECT_EQ(RevertData(kms_, deploy, kSecondAddress), "0x");  // empty revert data
  // Mined anyway: status 0.
  absl::StatusOr<std::string> hash = anvil_->SendTransaction({.to = kms_, .data = deploy, .gas = 500000});
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(Str(anvil_->WaitForReceipt(*hash)->at("status")), "0x0");
  SetKnob({"testSetRevertMode(uint8)", "0"});
  EXPECT_EQ(Str(Deploy5(kDeployerAddress, "false", kZero32, kHash).at("status")), "0x1");
}

TEST_F(FactoryTest, KnobNoImplementation) {
  const std::string impl = anvil_->chain().app_implementation;
  SetKnob({"testClearAppImplementation()"});
  EXPECT_EQ(CallView(kms_, {"appImplementation()(address)"}), kZeroAddress);
  const std::string deploy = Calldata({kDeploy5, kDeployerAddress, "false", "false", kZero32, kHash});
  EXPECT_EQ(RevertData(kms_, deploy, kDeployerAddress),
            Calldata({"Error(string)", "DstackApp implementation not set"}));
  // setAppImplementation restores it and logs AppImplementationSet(impl), not indexed.
  json::object set = Send(kDeployerPrivateKey, kms_, {"setAppImplementation(address)", impl});
  ASSERT_EQ(Logs(set).size(), 1u);
  EXPECT_EQ(Logs(set)[0].topics.at(0), "0x08bb433f12b5fd81d2d5e0deeb3b4d28371781ddbd80e9d053e7468d2b1aa82d");
  EXPECT_EQ(Logs(set)[0].data, Word(impl));
  EXPECT_EQ(Str(Deploy5(kDeployerAddress, "false", kZero32, kHash).at("status")), "0x1");
}

}  // namespace
}  // namespace anvil
