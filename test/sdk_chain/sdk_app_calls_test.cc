// The real JS SDK's device calls (@phala/cloud 0.2.9 addDevice / removeDevice /
// setAllowAnyDevice, encoded by viem) as an independent oracle for our DstackApp governance
// encoders (chain/dstack_app_calls.h, which the signer's SignAppCall signs): the SDK's raw
// transactions, captured on the wire, carry exactly our calldata, and the resulting logs and
// state read right with our event and view decoders. Also the two ownership generations of the
// test contracts (one-step DstackApp, two-step DstackAppTwoStep) through our encoders.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "chain/dstack_app_calls.h"
#include "chain/dstack_app_events.h"
#include "chain/dstack_app_views.h"
#include "chain/hex.h"
#include "chain/onchain/operations.h"
#include "chain/onchain/testing/anvil_env.h"
#include "chain/transaction.h"
#include "test/anvil/harness.h"
#include "test/sdk_chain/sdk_ops.h"

namespace sdkchain {
namespace {

namespace json = boost::json;
using chain::Address;
using chain::AppCall;
using chain::Bytes;
using chain::Hash32;
using chain::onchain::testing::AnvilEnv;
using chain::onchain::testing::TestHash;

// An app deployed by our own operations, owned by anvil's key #0 (the SDK's key too).
Address DeployApp(AnvilEnv& env) {
  absl::StatusOr<chain::onchain::DeployAppAuthResult> r = env.ops->DeployAppAuth(env.DeployRequest(TestHash(1)), {});
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->app_id : Address();
}

// Whether the receipt of `tx` has a log from `app` that is the event `call` emits.
bool LoggedFrom(AnvilEnv& env, const Hash32& tx, const Address& app, const AppCall& call) {
  absl::StatusOr<std::optional<chain::jsonrpc::Receipt>> r = env.rpc->GetTransactionReceipt(tx);
  if (!r.ok() || !r->has_value() || !(*r)->success) return false;
  for (const chain::jsonrpc::Log& log : (*r)->logs) {
    if (log.address == app && chain::IsAppCallEvent(call, log.topics, log.data)) return true;
  }
  return false;
}

template <typename T, typename Decode>
absl::StatusOr<T> View(AnvilEnv& env, const Address& app, const Bytes& data, absl::string_view function,
                       Decode decode) {
  absl::StatusOr<Bytes> r = env.rpc->EthCall({.to = app, .data = data});
  if (!r.ok()) return r.status();
  return decode(function, *r);
}
absl::StatusOr<bool> DeviceAllowed(AnvilEnv& env, const Address& app, const Hash32& device) {
  return View<bool>(env, app, chain::EncodeAllowedDeviceIdsView(device), chain::kAllowedDeviceIdsSignature,
                    chain::DecodeBoolResult);
}
absl::StatusOr<bool> AnyDevice(AnvilEnv& env, const Address& app) {
  return View<bool>(env, app, chain::EncodeAllowAnyDeviceView(), chain::kAllowAnyDeviceSignature,
                    chain::DecodeBoolResult);
}
absl::StatusOr<Address> Owner(AnvilEnv& env, const Address& app) {
  return View<Address>(env, app, chain::EncodeOwnerView(), chain::kOwnerSignature, chain::DecodeAddressResult);
}
absl::StatusOr<Address> PendingOwner(AnvilEnv& env, const Address& app) {
  return View<Address>(env, app, chain::EncodePendingOwnerView(), chain::kPendingOwnerSignature,
                       chain::DecodeAddressResult);
}

// Runs SDK ops; checks that it sent one transaction per op, to `app`, with exactly the calldata
// of `want[i]`, and that each landed with the event of that call.
void ExpectSdkSends(AnvilEnv& env, const Address& app, json::array ops, const std::vector<AppCall>& want) {
  absl::StatusOr<json::object> out = RunSdkOps(env, std::move(ops), absl::Seconds(60));
  ASSERT_TRUE(out.ok()) << out.status();
  const json::array& raws = out->at("raws").as_array();
  const json::array& results = out->at("results").as_array();
  ASSERT_EQ(raws.size(), want.size());
  ASSERT_EQ(results.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(chain::DescribeAppCall(want[i]));
    absl::StatusOr<chain::SignedEip1559Transaction> tx =
        chain::DecodeSignedEip1559(*chain::FromHex(std::string(raws[i].as_string())));
    ASSERT_TRUE(tx.ok()) << tx.status();
    EXPECT_EQ(chain::ToHex(tx->tx.data), chain::ToHex(chain::EncodeAppCall(want[i]))) << "the SDK's calldata";
    absl::StatusOr<AppCall> decoded = chain::DecodeAppCall(tx->tx.data);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_TRUE(*decoded == want[i]);
    EXPECT_EQ(*tx->tx.to, app);
    EXPECT_TRUE(tx->tx.value.IsZero());
    const Hash32 hash = *Hash32::FromHex(std::string(results[i].at("transactionHash").as_string()));
    EXPECT_TRUE(LoggedFrom(env, hash, app, want[i]));
  }
}

TEST(SdkAppCalls, DeviceCallsCarryOurCalldata) {
  absl::StatusOr<std::unique_ptr<AnvilEnv>> e = AnvilEnv::Start();
  ASSERT_TRUE(e.ok()) << e.status();
  AnvilEnv& env = **e;
  const Address app = DeployApp(env);
  const Hash32 device = TestHash(2, 0xde);
  ASSERT_EQ(DeviceAllowed(env, app, device).value_or(true), false);

  // As the CLI passes them: the app address and the device id without 0x (the SDK adds it).
  ExpectSdkSends(
      env, app,
      {json::object{{"kind", "addDevice"}, {"appAddress", app.Hex().substr(2)}, {"deviceId", device.Hex().substr(2)}}},
      {chain::AddDevice{device}});
  EXPECT_EQ(DeviceAllowed(env, app, device).value_or(false), true);

  ExpectSdkSends(env, app,
                 {json::object{{"kind", "setAllowAnyDevice"}, {"appAddress", app.Checksummed()}, {"allow", true}}},
                 {chain::SetAllowAnyDevice{true}});
  EXPECT_EQ(AnyDevice(env, app).value_or(false), true);

  ExpectSdkSends(
      env, app,
      {json::object{{"kind", "setAllowAnyDevice"}, {"appAddress", app.Checksummed()}, {"allow", false}},
       json::object{{"kind", "removeDevice"}, {"appAddress", app.Checksummed()}, {"deviceId", device.Hex()}}},
      {chain::SetAllowAnyDevice{false}, chain::RemoveDevice{device}});
  EXPECT_EQ(AnyDevice(env, app).value_or(true), false);
  EXPECT_EQ(DeviceAllowed(env, app, device).value_or(true), false);
}

// Sends `call` to `app` from an unlocked anvil account; the receipt, or the failure.
absl::StatusOr<Hash32> Send(AnvilEnv& env, const Address& app, const AppCall& call, const std::string& from) {
  absl::StatusOr<json::object> receipt =
      env.anvil->Transact({.from = from, .to = app.Hex(), .data = chain::ToHex(chain::EncodeAppCall(call))});
  if (!receipt.ok()) return receipt.status();
  return Hash32::FromHex(std::string(receipt->at("transactionHash").as_string()));
}

TEST(AppOwnership, TwoStepContractStagesThenAccepts) {
  absl::StatusOr<std::unique_ptr<AnvilEnv>> e = AnvilEnv::Start({.two_step_ownership = true});
  ASSERT_TRUE(e.ok()) << e.status();
  AnvilEnv& env = **e;
  const Address app = DeployApp(env);
  const Address first = env.sender;
  const Address second = *Address::Parse(anvil::kSecondAddress);

  absl::StatusOr<Hash32> tx = Send(env, app, chain::TransferOwnership{second}, anvil::kDeployerAddress);
  ASSERT_TRUE(tx.ok()) << tx.status();
  EXPECT_TRUE(LoggedFrom(env, *tx, app, chain::TransferOwnership{second}));
  absl::StatusOr<std::optional<chain::jsonrpc::Receipt>> receipt = env.rpc->GetTransactionReceipt(*tx);
  ASSERT_TRUE(receipt.ok() && receipt->has_value());
  ASSERT_EQ((*receipt)->logs.size(), 1u);
  absl::StatusOr<chain::OwnershipChange> started =
      chain::DecodeOwnershipTransferStartedLog((*receipt)->logs[0].topics, (*receipt)->logs[0].data);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(*started, (chain::OwnershipChange{first, second}));
  EXPECT_EQ(Owner(env, app).value_or(Address()), first) << "staged only";
  EXPECT_EQ(PendingOwner(env, app).value_or(Address()), second);

  // Only the pending owner may accept.
  EXPECT_FALSE(Send(env, app, chain::AcceptOwnership{}, anvil::kDeployerAddress).ok());
  tx = Send(env, app, chain::AcceptOwnership{}, anvil::kSecondAddress);
  ASSERT_TRUE(tx.ok()) << tx.status();
  EXPECT_TRUE(LoggedFrom(env, *tx, app, chain::AcceptOwnership{}));
  EXPECT_EQ(Owner(env, app).value_or(Address()), second);
  EXPECT_EQ(PendingOwner(env, app).value_or(second), Address());

  tx = Send(env, app, chain::DisableUpgrades{}, anvil::kSecondAddress);
  ASSERT_TRUE(tx.ok()) << tx.status();
  EXPECT_TRUE(LoggedFrom(env, *tx, app, chain::DisableUpgrades{}));
  absl::StatusOr<chain::U256> version =
      View<chain::U256>(env, app, chain::EncodeVersionView(), chain::kVersionSignature, chain::DecodeUint256Result);
  EXPECT_EQ(version.value_or(chain::U256()), chain::U256(2));
}

TEST(AppOwnership, OneStepContractHandsOverAtOnce) {
  absl::StatusOr<std::unique_ptr<AnvilEnv>> e = AnvilEnv::Start();
  ASSERT_TRUE(e.ok()) << e.status();
  AnvilEnv& env = **e;
  const Address app = DeployApp(env);
  const Address second = *Address::Parse(anvil::kSecondAddress);
  absl::StatusOr<Hash32> tx = Send(env, app, chain::TransferOwnership{second}, anvil::kDeployerAddress);
  ASSERT_TRUE(tx.ok()) << tx.status();
  EXPECT_TRUE(LoggedFrom(env, *tx, app, chain::TransferOwnership{second}));
  // The one-step event is OwnershipTransferred, which acceptOwnership's matcher also accepts.
  EXPECT_TRUE(LoggedFrom(env, *tx, app, chain::AcceptOwnership{}));
  EXPECT_EQ(Owner(env, app).value_or(Address()), second);
  EXPECT_FALSE(PendingOwner(env, app).ok()) << "pendingOwner() does not exist before 2026-05";
}

}  // namespace
}  // namespace sdkchain
