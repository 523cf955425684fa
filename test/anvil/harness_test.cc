// The harness itself: start-up on several chain ids, the deployed code, clean-up, and the
// chain-control helpers (mining modes, snapshot/revert, drop, funding, pause).
#include "test/anvil/harness.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "test/anvil/artifacts.h"

namespace anvil {
namespace {

namespace json = boost::json;

std::unique_ptr<Anvil> MustStart(const Options& options = {}) {
  absl::StatusOr<std::unique_ptr<Anvil>> a = Anvil::Start(options);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *std::move(a) : nullptr;
}

std::string GetCode(const Anvil& a, const std::string& address) {
  absl::StatusOr<json::value> code = a.Call("eth_getCode", {address, "latest"});
  EXPECT_TRUE(code.ok()) << code.status();
  return code.ok() && code->is_string() ? Lower(std::string(code->as_string())) : "";
}

// registerApp(address): a cheap, permissionless state change to drive mining tests with.
std::string RegisterAppCall(const std::string& app) { return "0x17a1d80f" + AbiWord(app); }
std::string RegisteredAppsCall(const std::string& app) { return "0xa6c4cce9" + AbiWord(app); }
const std::string kTrueWord = "0x" + AbiWord("0x1");
const std::string kFalseWord = "0x" + AbiWord("0x0");
constexpr char kSomeApp[] = "0x00000000000000000000000000000000000a7707";

class StartTest : public testing::TestWithParam<uint64_t> {};

TEST_P(StartTest, AnswersChainIdAndDeploysContracts) {
  const absl::Time t0 = absl::Now();
  std::unique_ptr<Anvil> a = MustStart({.chain_id = GetParam()});
  ASSERT_NE(a, nullptr);
  std::cout << "start+deploy on chain " << GetParam() << ": " << absl::FormatDuration(absl::Now() - t0) << "\n";
  const DevChain& c = a->chain();
  EXPECT_EQ(c.chain_id, GetParam());
  EXPECT_EQ(c.rpc_url, absl::StrCat("http://127.0.0.1:", a->port()));

  // Checked with cast as an independent client.
  absl::StatusOr<std::string> id = RunCast({"chain-id", "--rpc-url", c.rpc_url});
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, absl::StrCat(GetParam()));

  // Deployed from account #0 at nonces 0 and 1, with exactly the committed runtime code.
  EXPECT_EQ(c.deployer_address, kDeployerAddress);
  absl::StatusOr<std::string> impl_addr = RunCast({"compute-address", kDeployerAddress, "--nonce", "0"});
  absl::StatusOr<std::string> kms_addr = RunCast({"compute-address", kDeployerAddress, "--nonce", "1"});
  ASSERT_TRUE(impl_addr.ok() && kms_addr.ok());
  EXPECT_TRUE(absl::EndsWithIgnoreCase(*impl_addr, c.app_implementation)) << *impl_addr;
  EXPECT_TRUE(absl::EndsWithIgnoreCase(*kms_addr, c.kms_address)) << *kms_addr;
  absl::StatusOr<ContractArtifact> kms = LoadArtifact("DstackKms");
  absl::StatusOr<ContractArtifact> app = LoadArtifact("DstackApp");
  ASSERT_TRUE(kms.ok() && app.ok());
  EXPECT_EQ(GetCode(*a, c.kms_address), kms->deployed_bytecode);
  EXPECT_EQ(GetCode(*a, c.app_implementation), app->deployed_bytecode);

  // appImplementation() and owner() of the factory.
  absl::StatusOr<std::string> impl = a->EthCall(c.kms_address, "0x25a992da");
  ASSERT_TRUE(impl.ok()) << impl.status();
  EXPECT_EQ(*impl, "0x" + AbiWord(c.app_implementation));
  absl::StatusOr<std::string> owner = a->EthCall(c.kms_address, "0x8da5cb5b");
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_EQ(*owner, "0x" + AbiWord(kDeployerAddress));
}

INSTANTIATE_TEST_SUITE_P(ChainIds, StartTest, testing::Values(31337, 1, 8453),
                         [](const testing::TestParamInfo<uint64_t>& i) { return absl::StrCat("chain", i.param); });

TEST(Harness, DestructorStopsAnvilAndTwoInstancesCoexist) {
  std::unique_ptr<Anvil> first = MustStart({.deploy_contracts = false});
  std::unique_ptr<Anvil> second = MustStart({.deploy_contracts = false});
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(first->port(), second->port());
  const pid_t pid = first->pid();
  const uint16_t port = first->port();
  EXPECT_EQ(::kill(pid, 0), 0);
  first.reset();
  // Reaped, so the pid is gone, and nothing answers on the port any more.
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  JsonRpcClient probe("127.0.0.1", port, absl::Seconds(1));
  absl::StatusOr<json::value> r = probe.Call("eth_chainId", {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  // The other instance is unaffected.
  EXPECT_TRUE(second->BlockNumber().ok());
}

TEST(Harness, AutomineOffNeedsMine) {
  std::unique_ptr<Anvil> a = MustStart({.automine = false});
  ASSERT_NE(a, nullptr);  // the contracts still got deployed: the harness mined them
  ASSERT_FALSE(a->chain().kms_address.empty());
  absl::StatusOr<std::string> hash =
      a->SendTransaction({.to = a->chain().kms_address, .data = RegisterAppCall(kSomeApp)});
  ASSERT_TRUE(hash.ok()) << hash.status();
  absl::StatusOr<json::object> early = a->WaitForReceipt(*hash, absl::Milliseconds(300));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(a->Mine().ok());
  absl::StatusOr<json::object> receipt = a->WaitForReceipt(*hash, absl::Seconds(2));
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_EQ(json::value_to<std::string>(receipt->at("status")), "0x1");
}

TEST(Harness, SetAutomineAndDropTransaction) {
  std::unique_ptr<Anvil> a = MustStart();
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->SetAutomine(false).ok());
  absl::StatusOr<std::string> hash =
      a->SendTransaction({.to = a->chain().kms_address, .data = RegisterAppCall(kSomeApp)});
  ASSERT_TRUE(hash.ok()) << hash.status();
  absl::StatusOr<json::value> pending = a->Call("eth_getTransactionByHash", {*hash});
  ASSERT_TRUE(pending.ok());
  ASSERT_TRUE(pending->is_object());
  EXPECT_TRUE(pending->as_object().at("blockNumber").is_null());

  ASSERT_TRUE(a->DropTransaction(*hash).ok());
  EXPECT_EQ(a->DropTransaction(*hash).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(a->Mine().ok());
  absl::StatusOr<json::value> gone = a->Call("eth_getTransactionByHash", {*hash});
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(gone->is_null());
  EXPECT_EQ(*a->EthCall(a->chain().kms_address, RegisteredAppsCall(kSomeApp)), kFalseWord);

  // Back to automine: a transaction is mined at once.
  ASSERT_TRUE(a->SetAutomine(true).ok());
  absl::StatusOr<json::object> receipt = a->Transact({.to = a->chain().kms_address, .data = RegisterAppCall(kSomeApp)});
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_EQ(*a->EthCall(a->chain().kms_address, RegisteredAppsCall(kSomeApp)), kTrueWord);
}

TEST(Harness, SnapshotRevertRemovesMinedTransaction) {
  std::unique_ptr<Anvil> a = MustStart();
  ASSERT_NE(a, nullptr);
  absl::StatusOr<std::string> snap = a->Snapshot();
  ASSERT_TRUE(snap.ok()) << snap.status();
  const uint64_t block = *a->BlockNumber();
  absl::StatusOr<json::object> receipt = a->Transact({.to = a->chain().kms_address, .data = RegisterAppCall(kSomeApp)});
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  const std::string hash = json::value_to<std::string>(receipt->at("transactionHash"));
  EXPECT_EQ(*a->EthCall(a->chain().kms_address, RegisteredAppsCall(kSomeApp)), kTrueWord);
  EXPECT_EQ(*a->BlockNumber(), block + 1);

  ASSERT_TRUE(a->Revert(*snap).ok());
  EXPECT_EQ(*a->BlockNumber(), block);
  EXPECT_EQ(*a->EthCall(a->chain().kms_address, RegisteredAppsCall(kSomeApp)), kFalseWord);
  absl::StatusOr<json::value> gone = a->Call("eth_getTransactionReceipt", {hash});
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(gone->is_null());
  EXPECT_EQ(a->Revert(*snap).code(), absl::StatusCode::kNotFound);  // a snapshot is used up
}

TEST(Harness, IntervalMiningMinesWithoutHelp) {
  std::unique_ptr<Anvil> a = MustStart({.block_time = absl::Milliseconds(500)});
  ASSERT_NE(a, nullptr);
  ASSERT_FALSE(a->chain().kms_address.empty());
  absl::StatusOr<std::string> hash =
      a->SendTransaction({.to = a->chain().kms_address, .data = RegisterAppCall(kSomeApp)});
  ASSERT_TRUE(hash.ok()) << hash.status();
  absl::StatusOr<json::object> receipt = a->WaitForReceipt(*hash, absl::Seconds(5));
  ASSERT_TRUE(receipt.ok()) << receipt.status();
}

TEST(Harness, FundsArbitraryAddresses) {
  std::unique_ptr<Anvil> a = MustStart({.deploy_contracts = false});
  ASSERT_NE(a, nullptr);
  const std::string who = "0x1234567890abcdef1234567890abcdef12345678";
  ASSERT_TRUE(a->FundEther(who, 5).ok());
  absl::StatusOr<json::value> balance = a->Call("eth_getBalance", {who, "latest"});
  ASSERT_TRUE(balance.ok());
  EXPECT_EQ(json::value_to<std::string>(*balance), "0x4563918244f40000");  // 5e18
  ASSERT_TRUE(a->SetBalance(who, "0x1").ok());
  EXPECT_EQ(json::value_to<std::string>(*a->Call("eth_getBalance", {who, "latest"})), "0x1");
}

TEST(Harness, PauseMakesCallsTimeOutUntilResume) {
  std::unique_ptr<Anvil> a = MustStart({.deploy_contracts = false});
  ASSERT_NE(a, nullptr);
  JsonRpcClient quick("127.0.0.1", a->port(), absl::Milliseconds(300));
  ASSERT_TRUE(a->Pause().ok());
  EXPECT_EQ(quick.Call("eth_blockNumber", {}).status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(a->Resume().ok());
  EXPECT_TRUE(quick.Call("eth_blockNumber", {}).ok());
  ASSERT_TRUE(a->Pause().ok());  // the destructor copes with a paused anvil
}

TEST(Harness, RpcErrorsKeepCodeMessageAndData) {
  std::unique_ptr<Anvil> a = MustStart({.deploy_contracts = false});
  ASSERT_NE(a, nullptr);
  absl::StatusOr<RpcResponse> r = a->CallRaw("no_such_method");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->error.has_value());
  EXPECT_EQ(r->error->code, -32601);
  absl::StatusOr<json::value> v = a->Call("no_such_method");
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(v.status().message(), "-32601")) << v.status();
}

// Sends `n` transactions of account #0 at once, one thread each, in shuffled nonce order (as
// concurrent operations of one key broadcast them), and waits up to 5 s until all are mined.
// Returns how many stayed unmined.
int StrandedOfOneShuffledRound(Anvil& a, int n, std::mt19937& rng) {
  absl::StatusOr<json::value> start = a.Call("eth_getTransactionCount", {kDeployerAddress, "latest"});
  EXPECT_TRUE(start.ok()) << start.status();
  absl::StatusOr<uint64_t> first = ParseQuantity(start.ok() ? start->as_string().c_str() : "");
  if (!first.ok()) return n;
  std::vector<uint64_t> nonces(n);
  std::iota(nonces.begin(), nonces.end(), *first);
  std::shuffle(nonces.begin(), nonces.end(), rng);
  std::vector<std::thread> threads;
  for (uint64_t nonce : nonces) {
    threads.emplace_back([&a, nonce] {
      json::object tx{{"from", kDeployerAddress},
                      {"to", kSomeApp},
                      {"value", "0x1"},
                      {"gas", "0x5208"},
                      {"nonce", ToQuantity(nonce)}};
      absl::StatusOr<json::value> sent = a.Call("eth_sendTransaction", {tx});
      EXPECT_TRUE(sent.ok()) << "nonce " << nonce << ": " << sent.status();
    });
  }
  for (std::thread& t : threads) t.join();
  uint64_t mined = 0;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(5); absl::Now() < deadline;) {
    absl::StatusOr<json::value> count = a.Call("eth_getTransactionCount", {kDeployerAddress, "latest"});
    if (count.ok() && count->is_string()) mined = ParseQuantity(count->as_string().c_str()).value_or(*first) - *first;
    if (mined == static_cast<uint64_t>(n)) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return n - static_cast<int>(mined);
}

// anvil strands some out-of-order transactions of one sender in its queued pool now and then
// (foundry-rs/foundry#10122; here about one round in five: without the doctor this failed in round
// 1, 2 and 8 of three runs); the harness's pool doctor sends them again, so every round is mined.
// ANVIL_POOL_DOCTOR=0 runs it without the doctor.
TEST(PoolDoctor, OutOfOrderTransactionsOfOneSenderAreAllMined) {
  const char* env = std::getenv("ANVIL_POOL_DOCTOR");
  const bool doctor = env == nullptr || std::string(env) != "0";
  std::unique_ptr<Anvil> a = MustStart({.deploy_contracts = false, .pool_doctor = doctor});
  ASSERT_NE(a, nullptr);
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 30; ++round) {
    ASSERT_EQ(StrandedOfOneShuffledRound(*a, 50, rng), 0) << "round " << round << (doctor ? "" : " (no pool doctor)");
  }
  std::cout << "the pool doctor sent " << a->pool_doctor_resent() << " stranded transaction(s) again\n";
}

TEST(Tools, RunCastReportsExitCodeAndStderr) {
  absl::StatusOr<std::string> bad = RunCast({"chain-id", "--rpc-url", "http://127.0.0.1:1"});
  EXPECT_FALSE(bad.ok());
  absl::StatusOr<std::string> sig = RunCast({"sig", "addComposeHash(bytes32)"});
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(*sig, "0xdfc77223");
}

TEST(Tools, HexHelpers) {
  EXPECT_EQ(AbiWord("0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
            "000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266");
  EXPECT_EQ(ToQuantity(0), "0x0");
  EXPECT_EQ(ToQuantity(8453), "0x2105");
  EXPECT_EQ(*ParseQuantity("0x2105"), 8453u);
  EXPECT_FALSE(ParseQuantity("0x").ok());
  EXPECT_FALSE(ParseQuantity("0x1ffffffffffffffff").ok());
}

TEST(Artifacts, AllFourContractsEmbedded) {
  EXPECT_EQ(ArtifactNames(),
            (std::vector<std::string>{"DstackApp", "DstackAppProxy", "DstackAppTwoStep", "DstackKms", "KmsDecoy"}));
  absl::StatusOr<ContractArtifact> kms = LoadArtifact("DstackKms");
  ASSERT_TRUE(kms.ok()) << kms.status();
  EXPECT_TRUE(absl::StartsWith(kms->solc_version, "0.8.24+")) << kms->solc_version;
  EXPECT_TRUE(absl::StartsWith(kms->bytecode, "0x60"));
  EXPECT_EQ(kms->sources_sha256.size(), 64u);
  EXPECT_EQ(LoadArtifact("AppAuth").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace anvil
