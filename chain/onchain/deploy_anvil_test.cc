// DeployAppAuth against anvil with the dstack test contracts: chain ids 31337, 1 and 8453; the
// factory event filtered by emitter; the pre-checks that fail before anything is signed
// (revert decoding, insufficient funds, wrong chain, no contract).
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "chain/abi.h"
#include "chain/dstack_calls.h"
#include "chain/hex.h"
#include "chain/jsonrpc/errors.h"
#include "chain/onchain/operations.h"
#include "chain/onchain/receipts.h"
#include "chain/onchain/testing/anvil_env.h"
#include "test/anvil/artifacts.h"

namespace chain::onchain {
namespace {

using testing::AnvilEnv;
using testing::TestHash;

std::unique_ptr<AnvilEnv> MustStart(const anvil::Options& o = {}) {
  absl::StatusOr<std::unique_ptr<AnvilEnv>> env = AnvilEnv::Start(o);
  EXPECT_TRUE(env.ok()) << env.status();
  return env.ok() ? *std::move(env) : nullptr;
}

Bytes Call(absl::string_view signature, std::vector<abi::Value> args) {
  absl::StatusOr<Bytes> b = abi::EncodeCall(signature, args);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *b : Bytes();
}

std::string CallHex(absl::string_view signature, std::vector<abi::Value> args) { return ToHex(Call(signature, args)); }

class DeployOnChain : public ::testing::TestWithParam<uint64_t> {};

TEST_P(DeployOnChain, DeploysRegistersAndReadsTheFactoryEvent) {
  auto env = MustStart({.chain_id = GetParam()});
  ASSERT_NE(env, nullptr);
  const Hash32 compose = TestHash(1);
  const Hash32 device = TestHash(2, 0xde);
  absl::StatusOr<DeployAppAuthResult> r = env->ops->DeployAppAuth(env->DeployRequest(compose, device));
  ASSERT_TRUE(r.ok()) << r.status();

  EXPECT_EQ(r->app_id, r->app_contract);
  EXPECT_EQ(r->deployer, env->sender);
  EXPECT_EQ(r->versions_signed, 1);
  EXPECT_GT(r->gas_used, 200'000u);
  EXPECT_LT(r->gas_used, 300'000u);
  // The node agrees on every reported field.
  absl::StatusOr<std::optional<jsonrpc::Receipt>> receipt = env->rpc->GetTransactionReceipt(r->tx_hash);
  ASSERT_TRUE(receipt.ok() && receipt->has_value());
  EXPECT_EQ((*receipt)->block_number, r->block_number);
  EXPECT_EQ((*receipt)->gas_used, r->gas_used);
  EXPECT_EQ((*receipt)->block_hash, r->block_hash);
  absl::StatusOr<std::optional<jsonrpc::TransactionInfo>> tx = env->rpc->GetTransactionByHash(r->tx_hash);
  ASSERT_TRUE(tx.ok() && tx->has_value());
  EXPECT_EQ((*tx)->chain_id, GetParam());
  EXPECT_EQ((*tx)->nonce, r->nonce);
  DeployAndRegisterAppParams want;
  want.initial_owner = env->sender;
  want.initial_compose_hash = compose;
  want.initial_device_id = device;
  EXPECT_EQ((*tx)->input, EncodeDeployAndRegisterApp(want));

  // The app exists, is registered, is owned by us, and allows the hash and the device.
  absl::StatusOr<Bytes> code = env->rpc->GetCode(r->app_id);
  ASSERT_TRUE(code.ok());
  EXPECT_FALSE(code->empty());
  EXPECT_TRUE(
      env->CallBool(env->kms, Call("registeredApps(address)", {abi::Value::FromAddress(r->app_id)})).value_or(false));
  EXPECT_EQ(env->CallAddress(r->app_id, Call("owner()", {})).value_or(Address()), env->sender);
  EXPECT_TRUE(env->CallBool(r->app_id, Call("allowedComposeHashes(bytes32)", {abi::Value::FromBytes32(compose)}))
                  .value_or(false));
  EXPECT_TRUE(
      env->CallBool(r->app_id, Call("allowedDeviceIds(bytes32)", {abi::Value::FromBytes32(device)})).value_or(false));
}

INSTANTIATE_TEST_SUITE_P(ChainIds, DeployOnChain, ::testing::Values(31337, 1, 8453),
                         [](const ::testing::TestParamInfo<uint64_t>& i) { return absl::StrCat("chain", i.param); });

TEST(Deploy, IgnoresLookAlikeEventsFromOtherAddresses) {
  auto env = MustStart();
  ASSERT_NE(env, nullptr);
  absl::StatusOr<anvil::ContractArtifact> decoy = anvil::LoadArtifact("KmsDecoy");
  ASSERT_TRUE(decoy.ok());
  absl::StatusOr<std::string> decoy_addr = env->anvil->Deploy(decoy->bytecode);
  ASSERT_TRUE(decoy_addr.ok()) << decoy_addr.status();
  // A foreign AppDeployedViaFactory before the real one, a PolicyChanged, and the real event twice.
  ASSERT_TRUE(
      env->KmsOwnerCall(CallHex("testSetDecoy(address)", {abi::Value::FromAddress(*Address::Parse(*decoy_addr))}))
          .ok());
  ASSERT_TRUE(env->KmsOwnerCall(CallHex("testSetExtraLogBeforeFactoryEvent(bool)", {abi::Value::FromBool(true)})).ok());
  ASSERT_TRUE(env->KmsOwnerCall(CallHex("testSetDoubleFactoryEvent(bool)", {abi::Value::FromBool(true)})).ok());

  absl::StatusOr<DeployAppAuthResult> r = env->ops->DeployAppAuth(env->DeployRequest(TestHash(7)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->app_id.Hex(), *decoy_addr) << "the decoy's event (topic-only match, as the SDK does) was taken";
  absl::StatusOr<std::optional<jsonrpc::Receipt>> receipt = env->rpc->GetTransactionReceipt(r->tx_hash);
  ASSERT_TRUE(receipt.ok() && receipt->has_value());
  // What a topic-only parser takes first is the decoy's.
  const jsonrpc::Log* first = nullptr;
  for (const jsonrpc::Log& l : (*receipt)->logs) {
    if (!l.topics.empty() && l.topics[0] == AppDeployedViaFactoryTopic()) {
      first = &l;
      break;
    }
  }
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->address.Hex(), *decoy_addr);
  EXPECT_TRUE(
      env->CallBool(env->kms, Call("registeredApps(address)", {abi::Value::FromAddress(r->app_id)})).value_or(false));

  // And with no factory event at all, the operation says so instead of guessing.
  ASSERT_TRUE(env->KmsOwnerCall(CallHex("testSetSkipFactoryEvent(bool)", {abi::Value::FromBool(true)})).ok());
  absl::StatusOr<DeployAppAuthResult> none = env->ops->DeployAppAuth(env->DeployRequest(TestHash(8)));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition) << none.status();
  EXPECT_TRUE(absl::StrContains(none.status().message(), "no AppDeployedViaFactory log from the KMS")) << none.status();
  EXPECT_TRUE(absl::StrContains(none.status().message(), "1 with that topic from other addresses")) << none.status();
}

TEST(Deploy, FactoryWithoutImplementationFailsBeforeSigning) {
  auto env = MustStart();
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(env->KmsOwnerCall(CallHex("testClearAppImplementation()", {})).ok());
  absl::StatusOr<DeployAppAuthResult> r = env->ops->DeployAppAuth(env->DeployRequest(TestHash(1)));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(r.status().message(), "deployAndRegisterApp would revert")) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "Error(\"DstackApp implementation not set\")")) << r.status();
  std::optional<jsonrpc::RpcError> e = jsonrpc::GetRpcError(r.status());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, 3);
  EXPECT_EQ(e->message, "execution reverted: DstackApp implementation not set");
  EXPECT_EQ(env->signer->signatures(), 0);
}

TEST(Deploy, CustomErrorRevertIsDecoded) {
  auto env = MustStart();
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(env->KmsOwnerCall(ToHex(abi::EncodeCall(abi::FunctionSelector("testSetRevertMode(uint8)"),
                                                      {abi::Value::FromUint(1)})))
                  .ok());
  absl::StatusOr<DeployAppAuthResult> r = env->ops->DeployAppAuth(env->DeployRequest(TestHash(1)));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  // TestKnobRevert(address) is no production error: shown as its selector and size.
  EXPECT_TRUE(absl::StrContains(r.status().message(), "custom error 0x")) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "(32 bytes)")) << r.status();
  ASSERT_TRUE(env->KmsOwnerCall(ToHex(abi::EncodeCall(abi::FunctionSelector("testSetRevertMode(uint8)"),
                                                      {abi::Value::FromUint(2)})))
                  .ok());
  r = env->ops->DeployAppAuth(env->DeployRequest(TestHash(1)));
  EXPECT_TRUE(absl::StrContains(r.status().message(), "empty revert data")) << r.status();
  EXPECT_EQ(env->signer->signatures(), 0);
}

TEST(Deploy, InsufficientFundsFailsBeforeSigning) {
  auto env = MustStart();
  ASSERT_NE(env, nullptr);
  absl::StatusOr<std::unique_ptr<LocalKeySigner>> poor =
      LocalKeySigner::FromHex("0x00000000000000000000000000000000000000000000000000000000000b0b01");
  ASSERT_TRUE(poor.ok());
  // A few wei short of one deploy at ~2 gwei: 1e12 wei.
  ASSERT_TRUE(env->anvil->SetBalance((*poor)->address().Hex(), "0xe8d4a51000").ok());
  OnchainOperations ops(*env->rpc, **poor, testing::FastOptions());
  DeployAppAuthRequest req = env->DeployRequest(TestHash(1));
  req.sender = (*poor)->address();
  const uint64_t requests_before = env->rpc->endpoint_states()[0].transport.requests;
  absl::StatusOr<DeployAppAuthResult> r = ops.DeployAppAuth(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(r.status().message(), "insufficient funds: ")) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "has 0.000001 ETH")) << r.status();
  EXPECT_EQ((*poor)->signatures(), 0);
  // Chain id, KMS code, gas estimate, fee history, priority fee and balance: one HTTP exchange.
  EXPECT_EQ(env->rpc->endpoint_states()[0].transport.requests - requests_before, 1u);

  // The node's own answer to an unfunded transaction, for the record (anvil's shape).
  ASSERT_TRUE(env->anvil->SetBalance((*poor)->address().Hex(), "0x0").ok());
  TxEnvelope envl{.chain_id = env->chain_id,
                  .from = (*poor)->address(),
                  .nonce = 0,
                  .gas_limit = 300000,
                  .max_fee_per_gas = U256(3'000'000'000),
                  .max_priority_fee_per_gas = U256(1'000'000'000)};
  absl::StatusOr<SignedTx> tx = (*poor)->SignAddComposeHash(envl, env->kms, TestHash(1));
  ASSERT_TRUE(tx.ok());
  absl::Status send = env->rpc->SendRawTransaction(tx->raw).status();
  EXPECT_EQ(send.code(), absl::StatusCode::kFailedPrecondition) << send;
  EXPECT_EQ(jsonrpc::GetRpcErrorKind(send), jsonrpc::RpcErrorKind::kInsufficientFunds);
  EXPECT_EQ(jsonrpc::GetRpcError(send)->code, -32003);
  EXPECT_EQ(jsonrpc::GetRpcError(send)->message, "Insufficient funds for gas * price + value");
}

TEST(Deploy, WrongChainAndMissingContract) {
  auto env = MustStart({.chain_id = 8453});
  ASSERT_NE(env, nullptr);
  DeployAppAuthRequest req = env->DeployRequest(TestHash(1));
  req.chain_id = 1;
  absl::StatusOr<DeployAppAuthResult> r = env->ops->DeployAppAuth(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(), "wrong network: the RPC endpoint serves chain 8453, the KMS is on chain 1");

  req = env->DeployRequest(TestHash(1));
  req.kms = *Address::Parse("0x000000000000000000000000000000000000dead");
  r = env->ops->DeployAppAuth(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(r.status().message(),
                                "no contract at the KMS address 0x000000000000000000000000000000000000dEaD"))
      << r.status();
  EXPECT_EQ(env->signer->signatures(), 0);

  // The client-level guard: an endpoint on another chain is refused outright.
  jsonrpc::ClientOptions o = testing::FastClientOptions({env->anvil->chain().rpc_url});
  o.expected_chain_id = 1;
  absl::StatusOr<std::unique_ptr<jsonrpc::Client>> c = jsonrpc::Client::Create(o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->BlockNumber().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Deploy, EstimateGasRevertShapeFromAnvil) {
  // The exact anvil error of a non-owner call, through the production client.
  auto env = MustStart();
  ASSERT_NE(env, nullptr);
  absl::StatusOr<DeployAppAuthResult> r = env->ops->DeployAppAuth(env->DeployRequest(TestHash(1)));
  ASSERT_TRUE(r.ok()) << r.status();
  const Address stranger = *Address::Parse(anvil::kSecondAddress);
  absl::StatusOr<uint64_t> gas =
      env->rpc->EstimateGas({.from = stranger, .to = r->app_id, .data = EncodeAddComposeHash(TestHash(2))});
  EXPECT_EQ(gas.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(gas.status().message(),
                                "eth_estimateGas: execution reverted: "
                                "OwnableUnauthorizedAccount(0x70997970C51812dc3A010C7d01b50e0d17dc79C8) [json-rpc 3]"))
      << gas.status();
  std::optional<jsonrpc::RpcError> e = jsonrpc::GetRpcError(gas.status());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, 3);
  EXPECT_EQ(
      e->message,
      "execution reverted: custom error 0x118cdaa7: 00000000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c8");
  EXPECT_EQ(ToHex(*e->revert_data), "0x118cdaa700000000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c8");
}

}  // namespace
}  // namespace chain::onchain
