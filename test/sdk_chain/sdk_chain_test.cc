// The real JS SDK (@phala/cloud 0.2.9, viem) against the same anvil contracts as our C++
// operations: for the same inputs our calldata equals the SDK's byte for byte (the SDK's raw
// transactions are captured with a viem transport hook and decoded here), and both leave the same
// state (owner, allowed hash and device, registration, proxy code and implementation, log shape,
// gas). Also shows where we differ on purpose: the SDK takes the first AppDeployedViaFactory log
// of any emitter; we take the KMS's.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "chain/abi.h"
#include "chain/dstack_calls.h"
#include "chain/hex.h"
#include "chain/keccak.h"
#include "chain/onchain/operations.h"
#include "chain/onchain/receipts.h"
#include "chain/onchain/testing/anvil_env.h"
#include "chain/transaction.h"
#include "test/anvil/artifacts.h"
#include "test/anvil/harness.h"
#include "test/sdk_chain/sdk_ops.h"

namespace sdkchain {
namespace {

namespace json = boost::json;
using chain::Address;
using chain::Bytes;
using chain::Hash32;
using chain::onchain::testing::AnvilEnv;
using chain::onchain::testing::TestHash;

constexpr char kImplementationSlot[] = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";

struct SdkRun {
  json::array results;
  std::vector<chain::SignedEip1559Transaction> txs;  // decoded raw transactions, in send order
};

absl::StatusOr<SdkRun> RunSdk(const AnvilEnv& env, json::array ops) {
  absl::StatusOr<json::object> out = RunSdkOps(env, std::move(ops), absl::Seconds(60));
  if (!out.ok()) return out.status();
  SdkRun run;
  run.results = out->at("results").as_array();
  for (const json::value& raw : out->at("raws").as_array()) {
    absl::StatusOr<Bytes> b = chain::FromHex(std::string(raw.as_string()));
    if (!b.ok()) return b.status();
    absl::StatusOr<chain::SignedEip1559Transaction> tx = chain::DecodeSignedEip1559(*b);
    if (!tx.ok()) return tx.status();
    run.txs.push_back(*tx);
  }
  return run;
}

Bytes CallData(absl::string_view sig, std::vector<chain::abi::Value> args) {
  return *chain::abi::EncodeCall(sig, args);
}

// Everything an app's state and code say, as one comparable string.
std::string AppState(AnvilEnv& env, const Address& app, const Hash32& compose, const Hash32& device,
                     const Hash32& compose2) {
  using V = chain::abi::Value;
  std::string s;
  absl::StrAppend(&s, "owner=", env.CallAddress(app, CallData("owner()", {})).value_or(Address()).Hex());
  absl::StrAppend(
      &s, " compose=",
      env.CallBool(app, CallData("allowedComposeHashes(bytes32)", {V::FromBytes32(compose)})).value_or(false));
  absl::StrAppend(
      &s, " compose2=",
      env.CallBool(app, CallData("allowedComposeHashes(bytes32)", {V::FromBytes32(compose2)})).value_or(false));
  absl::StrAppend(&s, " device=",
                  env.CallBool(app, CallData("allowedDeviceIds(bytes32)", {V::FromBytes32(device)})).value_or(false));
  absl::StrAppend(&s, " anyDevice=", env.CallBool(app, CallData("allowAnyDevice()", {})).value_or(true));
  absl::StrAppend(&s, " tcb=", env.CallBool(app, CallData("requireTcbUpToDate()", {})).value_or(true));
  absl::StrAppend(&s, " registered=",
                  env.CallBool(env.kms, CallData("registeredApps(address)", {V::FromAddress(app)})).value_or(false));
  absl::StatusOr<Bytes> code = env.rpc->GetCode(app);
  absl::StrAppend(&s, " code=", code.ok() ? chain::ToHex(chain::Keccak256(*code).bytes()) : "?");
  absl::StatusOr<json::value> impl =
      env.anvil->Call("eth_getStorageAt", {json::string(app.Hex()), kImplementationSlot, "latest"});
  absl::StrAppend(&s, " impl=", impl.ok() ? json::serialize(*impl) : "?");
  return s;
}

// The receipt's logs with app addresses abstracted: emitter role, topics, data.
std::string LogShape(const chain::jsonrpc::Receipt& r, const Address& app, const Address& kms) {
  std::string word_app = chain::ToHex(chain::abi::EncodeArgs({chain::abi::Value::FromAddress(app)}));
  std::string s;
  for (const chain::jsonrpc::Log& l : r.logs) {
    absl::StrAppend(&s, l.address == app ? "APP" : l.address == kms ? "KMS" : l.address.Hex(), "[");
    for (const Hash32& t : l.topics) absl::StrAppend(&s, t.Hex() == word_app ? "<app>" : t.Hex(), ",");
    const std::string data = chain::ToHex(l.data);
    absl::StrAppend(&s, "](", data == word_app ? "<app>" : data, ") ");
  }
  return s;
}

chain::jsonrpc::Receipt MustReceipt(AnvilEnv& env, const Hash32& h) {
  absl::StatusOr<std::optional<chain::jsonrpc::Receipt>> r = env.rpc->GetTransactionReceipt(h);
  EXPECT_TRUE(r.ok() && r->has_value());
  return r.ok() && r->has_value() ? **r : chain::jsonrpc::Receipt();
}

class SdkChain : public ::testing::TestWithParam<uint64_t> {};

TEST_P(SdkChain, SameCalldataAndSameStateAsTheSdk) {
  absl::StatusOr<std::unique_ptr<AnvilEnv>> e = AnvilEnv::Start({.chain_id = GetParam()});
  ASSERT_TRUE(e.ok()) << e.status();
  AnvilEnv& env = **e;
  const Hash32 compose = TestHash(1);
  const Hash32 device = TestHash(2, 0xde);
  const Hash32 compose2 = TestHash(3);

  // ---- deployAppAuth ----
  // The Phala API prints hashes without 0x; the SDK adds it (asHex).
  absl::StatusOr<SdkRun> sdk = RunSdk(
      env, {json::object{{"kind", "deploy"}, {"composeHash", compose.Hex().substr(2)}, {"deviceId", device.Hex()}}});
  ASSERT_TRUE(sdk.ok()) << sdk.status();
  ASSERT_EQ(sdk->txs.size(), 1u);
  const chain::Eip1559Transaction& sdk_tx = sdk->txs[0].tx;
  absl::StatusOr<Address> sdk_app = Address::Parse(std::string(sdk->results[0].at("appId").as_string()));
  ASSERT_TRUE(sdk_app.ok());
  const Hash32 sdk_hash = *Hash32::FromHex(std::string(sdk->results[0].at("transactionHash").as_string()));

  std::optional<chain::onchain::TxJournal> ours_journal;
  absl::StatusOr<chain::onchain::DeployAppAuthResult> ours =
      env.ops->DeployAppAuth(env.DeployRequest(compose, device), {.on_signed = [&](const chain::onchain::TxJournal& j) {
                               ours_journal = j;
                               return absl::OkStatus();
                             }});
  ASSERT_TRUE(ours.ok()) << ours.status();
  ASSERT_TRUE(ours_journal.has_value());
  const chain::onchain::SignedTx& our_tx = ours_journal->newest();

  chain::DeployAndRegisterAppParams want;
  want.initial_owner = env.sender;
  want.initial_compose_hash = compose;
  want.initial_device_id = device;
  EXPECT_EQ(chain::ToHex(sdk_tx.data), chain::ToHex(our_tx.data)) << "calldata differs from the SDK's";
  EXPECT_EQ(our_tx.data, chain::EncodeDeployAndRegisterApp(want));
  EXPECT_EQ(sdk_tx.data.size(), 164u);
  EXPECT_EQ(sdk_tx.to, our_tx.to);
  EXPECT_EQ(sdk_tx.chain_id, our_tx.chain_id);
  EXPECT_TRUE(sdk_tx.value.IsZero());
  EXPECT_EQ(our_tx.nonce, sdk_tx.nonce + 1);
  EXPECT_EQ(*sdk->txs[0].Sender(), our_tx.from);

  // The SDK's appId is what our parser reads from the SDK's own receipt.
  const chain::jsonrpc::Receipt sdk_receipt = MustReceipt(env, sdk_hash);
  absl::StatusOr<chain::onchain::AppDeployedEvent> sdk_event = chain::onchain::FindAppDeployed(sdk_receipt, env.kms);
  ASSERT_TRUE(sdk_event.ok()) << sdk_event.status();
  EXPECT_EQ(sdk_event->app_id, *sdk_app);
  EXPECT_NE(*sdk_app, ours->app_id);

  const chain::jsonrpc::Receipt our_receipt = MustReceipt(env, ours->tx_hash);
  EXPECT_EQ(LogShape(sdk_receipt, *sdk_app, env.kms), LogShape(our_receipt, ours->app_id, env.kms));
  EXPECT_EQ(sdk_receipt.gas_used, our_receipt.gas_used);
  EXPECT_EQ(AppState(env, *sdk_app, compose, device, compose2), AppState(env, ours->app_id, compose, device, compose2));

  // ---- addComposeHash ----
  // The CLI passes the app id without 0x.
  absl::StatusOr<SdkRun> sdk_add = RunSdk(
      env, {json::object{{"kind", "add"}, {"appId", sdk_app->Hex().substr(2)}, {"composeHash", compose2.Hex()}}});
  ASSERT_TRUE(sdk_add.ok()) << sdk_add.status();
  ASSERT_EQ(sdk_add->txs.size(), 1u);
  std::optional<chain::onchain::TxJournal> add_journal;
  absl::StatusOr<chain::onchain::AddComposeHashResult> add = env.ops->AddComposeHash(
      {.chain_id = env.chain_id, .app = ours->app_id, .sender = env.sender, .compose_hash = compose2},
      {.on_signed = [&](const chain::onchain::TxJournal& j) {
        add_journal = j;
        return absl::OkStatus();
      }});
  ASSERT_TRUE(add.ok()) << add.status();
  ASSERT_TRUE(add_journal.has_value());
  EXPECT_EQ(chain::ToHex(sdk_add->txs[0].tx.data), chain::ToHex(add_journal->newest().data));
  EXPECT_EQ(add_journal->newest().data, chain::EncodeAddComposeHash(compose2));
  EXPECT_EQ(*sdk_add->txs[0].tx.to, *sdk_app);
  const Hash32 sdk_add_hash = *Hash32::FromHex(std::string(sdk_add->results[0].at("transactionHash").as_string()));
  const chain::jsonrpc::Receipt sdk_add_receipt = MustReceipt(env, sdk_add_hash);
  const chain::jsonrpc::Receipt our_add_receipt = MustReceipt(env, *add->tx_hash);
  EXPECT_EQ(LogShape(sdk_add_receipt, *sdk_app, env.kms), LogShape(our_add_receipt, ours->app_id, env.kms));
  EXPECT_EQ(sdk_add_receipt.gas_used, our_add_receipt.gas_used);
  EXPECT_EQ(AppState(env, *sdk_app, compose, device, compose2), AppState(env, ours->app_id, compose, device, compose2));
  EXPECT_NE(AppState(env, *sdk_app, compose, device, compose2).find("compose2=1"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(ChainIds, SdkChain, ::testing::Values(31337, 8453),
                         [](const ::testing::TestParamInfo<uint64_t>& i) { return absl::StrCat("chain", i.param); });

TEST(SdkChainDifference, TheSdkTakesALookAlikeEventWeDoNot) {
  absl::StatusOr<std::unique_ptr<AnvilEnv>> e = AnvilEnv::Start();
  ASSERT_TRUE(e.ok()) << e.status();
  AnvilEnv& env = **e;
  absl::StatusOr<anvil::ContractArtifact> decoy = anvil::LoadArtifact("KmsDecoy");
  ASSERT_TRUE(decoy.ok());
  absl::StatusOr<std::string> decoy_addr = env.anvil->Deploy(decoy->bytecode);
  ASSERT_TRUE(decoy_addr.ok());
  ASSERT_TRUE(env.KmsOwnerCall(chain::ToHex(CallData("testSetDecoy(address)",
                                                     {chain::abi::Value::FromAddress(*Address::Parse(*decoy_addr))})))
                  .ok());

  absl::StatusOr<SdkRun> sdk = RunSdk(env, {json::object{{"kind", "deploy"}, {"composeHash", TestHash(1).Hex()}}});
  ASSERT_TRUE(sdk.ok()) << sdk.status();
  const std::string sdk_app = chain::ToHex(*chain::FromHex(std::string(sdk->results[0].at("appId").as_string())));
  EXPECT_EQ(sdk_app, *decoy_addr) << "the SDK reports the decoy (a contract that is no app) as the appId";

  absl::StatusOr<chain::onchain::DeployAppAuthResult> ours = env.ops->DeployAppAuth(env.DeployRequest(TestHash(2)));
  ASSERT_TRUE(ours.ok()) << ours.status();
  EXPECT_NE(ours->app_id.Hex(), *decoy_addr);
  EXPECT_TRUE(env.CallBool(env.kms, CallData("registeredApps(address)", {chain::abi::Value::FromAddress(ours->app_id)}))
                  .value_or(false));
}

}  // namespace
}  // namespace sdkchain
