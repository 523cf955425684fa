// Unit tests without a chain (run under ASan too): fees and bumps, the journal, log parsing,
// the in-process signer's anti-equivocation rule and the signer-answer check, and nonce
// allocation under concurrency against a scripted JSON-RPC server.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "chain/dstack_calls.h"
#include "chain/hex.h"
#include "chain/keccak.h"
#include "chain/onchain/fees.h"
#include "chain/onchain/local_key_signer.h"
#include "chain/onchain/nonce_allocator.h"
#include "chain/onchain/receipts.h"
#include "chain/onchain/tx_journal.h"
#include "chain/transaction.h"
#include "platform/http/testing/fake_server.h"

namespace chain::onchain {
namespace {

namespace json = boost::json;

constexpr char kKey0[] = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const Address kKms = *Address::Parse("0x5fbdb2315678afecb367f032d93f642f64180aa3");
const Address kOther = *Address::Parse("0x000000000000000000000000000000000000d00d");

Hash32 H(uint8_t b) {
  std::array<uint8_t, 32> a{};
  a.fill(b);
  return Hash32(a);
}

// ---- fees ----

TEST(Fees, ComposeWithinCaps) {
  FeePolicy p;
  absl::StatusOr<Fees> f = ComposeFees(U256(1'000'000'000), U256(2'000'000'000), p);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->max_fee_per_gas, U256(4'000'000'000));  // 2 x 1 gwei + 2 gwei
  EXPECT_EQ(f->max_priority_fee_per_gas, U256(2'000'000'000));
  // Priority clamped to the cap; max fee clamped to the cap as long as base + priority fits.
  p.max_priority_fee_per_gas = U256(1'000'000'000);
  p.max_fee_per_gas_cap = U256(2'500'000'000);
  f = ComposeFees(U256(1'000'000'000), U256(2'000'000'000), p);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->max_priority_fee_per_gas, U256(1'000'000'000));
  EXPECT_EQ(f->max_fee_per_gas, U256(2'500'000'000));
  // The market above the cap.
  f = ComposeFees(U256(3'000'000'000), U256(0), p);
  EXPECT_EQ(f.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StrContains(f.status().message(), "next base fee 3 gwei")) << f.status();
}

TEST(Fees, BumpRaisesBothByTheMinimumOrToTheMarket) {
  FeePolicy p;  // +15%
  const Fees old{U256(2'000'000'000), U256(1'000'000'000), U256()};
  absl::StatusOr<Fees> b = BumpFees(old, Fees{U256(1), U256(1), U256(1)}, p);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->max_fee_per_gas, U256(2'300'000'000));
  EXPECT_EQ(b->max_priority_fee_per_gas, U256(1'150'000'000));
  b = BumpFees(old, Fees{U256(90'000'000'000), U256(3'000'000'000), U256()}, p);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->max_fee_per_gas, U256(90'000'000'000));
  EXPECT_EQ(b->max_priority_fee_per_gas, U256(3'000'000'000));
  // Never below +10% even if configured lower; rounding up.
  p.bump_percent = 1;
  b = BumpFees(Fees{U256(1001), U256(0), U256()}, Fees{}, p);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->max_fee_per_gas, U256(1102));  // ceil(1001 * 1.1)
  EXPECT_EQ(b->max_priority_fee_per_gas, U256(1));
  // The cap leaves no room.
  p = FeePolicy();
  p.max_fee_per_gas_cap = U256(2'200'000'000);
  EXPECT_EQ(BumpFees(old, Fees{}, p).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(*ScalePercentCeil(U256(3), 150), U256(5));
  EXPECT_FALSE(ScalePercentCeil(U256::Max(), 110).ok());
}

// ---- signer ----

TxEnvelope Env(uint64_t nonce, uint64_t max_fee, uint64_t prio) {
  return {.request_id = "t",
          .chain_id = 31337,
          .from = *Address::Parse("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"),
          .nonce = nonce,
          .gas_limit = 300000,
          .max_fee_per_gas = U256(max_fee),
          .max_priority_fee_per_gas = U256(prio)};
}

TEST(LocalKeySigner, AntiEquivocation) {
  auto s = *LocalKeySigner::FromHex(kKey0);
  DeployAndRegisterAppParams p;
  p.initial_owner = s->address();
  p.initial_compose_hash = H(0x11);
  absl::StatusOr<SignedTx> first = s->SignDeployAndRegisterApp(Env(0, 2000, 1000), kKms, p);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->nonce_use, NonceUse::kFirst);
  EXPECT_TRUE(VerifySignedTx(*first, Env(0, 2000, 1000), kKms, EncodeDeployAndRegisterApp(p)).ok());

  absl::StatusOr<SignedTx> repeat = s->SignDeployAndRegisterApp(Env(0, 2000, 1000), kKms, p);
  ASSERT_TRUE(repeat.ok());
  EXPECT_EQ(repeat->nonce_use, NonceUse::kRepeat);
  EXPECT_EQ(repeat->raw, first->raw);

  // +9% is not a bump; +10% on both is.
  EXPECT_EQ(s->SignDeployAndRegisterApp(Env(0, 2180, 1100), kKms, p).status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<SignedTx> bump = s->SignDeployAndRegisterApp(Env(0, 2200, 1100), kKms, p);
  ASSERT_TRUE(bump.ok()) << bump.status();
  EXPECT_EQ(bump->nonce_use, NonceUse::kFeeBump);
  EXPECT_EQ(bump->replaced_transaction_hash, first->hash);
  // Another call on the same nonce: refused, whatever the fees.
  EXPECT_EQ(s->SignAddComposeHash(Env(0, 9000, 9000), kKms, H(0x22)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s->refusals(), 2);
  // Another key's transaction.
  TxEnvelope foreign = Env(1, 2000, 1000);
  foreign.from = kOther;
  EXPECT_EQ(s->SignAddComposeHash(foreign, kKms, H(0x22)).status().code(), absl::StatusCode::kNotFound);
}

// A signer that lies: signs something else than what it was asked.
class LyingSigner final : public TxSigner {
 public:
  explicit LyingSigner(LocalKeySigner& inner) : inner_(inner) {}
  absl::StatusOr<SignedTx> SignDeployAndRegisterApp(const TxEnvelope& e, const Address& kms,
                                                    const DeployAndRegisterAppParams& p) override {
    DeployAndRegisterAppParams evil = p;
    evil.initial_owner = kOther;
    absl::StatusOr<SignedTx> t = inner_.SignDeployAndRegisterApp(e, kms, evil);
    if (t.ok()) t->data = EncodeDeployAndRegisterApp(p);  // and reports the honest calldata
    return t;
  }
  absl::StatusOr<SignedTx> SignAddComposeHash(const TxEnvelope& e, const Address& app, const Hash32& h) override {
    TxEnvelope cheaper = e;
    cheaper.nonce += 1;
    return inner_.SignAddComposeHash(cheaper, app, h);
  }

 private:
  LocalKeySigner& inner_;
};

TEST(VerifySignedTx, CatchesASignerThatSignsSomethingElse) {
  auto s = *LocalKeySigner::FromHex(kKey0);
  LyingSigner liar(*s);
  DeployAndRegisterAppParams p;
  p.initial_owner = s->address();
  absl::Status st = SignIntent(liar, Env(0, 2000, 1000), TxIntent::Deploy(kKms, p)).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(st.message(), "data")) << st;
  st = SignIntent(liar, Env(3, 2000, 1000), TxIntent::AddComposeHash(kKms, H(1))).status();
  EXPECT_TRUE(absl::StrContains(st.message(), "nonce")) << st;
}

// ---- journal ----

TEST(TxJournal, RoundTripAndChecks) {
  auto s = *LocalKeySigner::FromHex(kKey0);
  absl::StatusOr<SignedTx> a = s->SignAddComposeHash(Env(7, 2000, 1000), kOther, H(0x33));
  absl::StatusOr<SignedTx> b = s->SignAddComposeHash(Env(7, 2300, 1150), kOther, H(0x33));
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<TxJournal> j = TxJournal::FromVersions({a->raw, b->raw});
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->nonce, 7u);
  EXPECT_EQ(j->chain_id, 31337u);
  EXPECT_EQ(j->from, s->address());
  EXPECT_EQ(j->intent.kind, TxIntent::Kind::kAddComposeHash);
  EXPECT_EQ(j->intent.compose_hash, H(0x33));
  EXPECT_EQ(j->newest().hash, b->hash);
  EXPECT_EQ(j->versions[1].replaced_transaction_hash, a->hash);

  absl::StatusOr<TxJournal> back = TxJournal::Parse(j->Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Serialize(), j->Serialize());
  EXPECT_EQ(back->newest().max_fee_per_gas, U256(2300));

  // Not a replacement: a different nonce.
  absl::StatusOr<SignedTx> c = s->SignAddComposeHash(Env(8, 2000, 1000), kOther, H(0x33));
  EXPECT_EQ(TxJournal::FromVersions({a->raw, c->raw}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(TxJournal::Parse("{}").ok());
  EXPECT_FALSE(TxJournal::Parse(R"({"v":1,"raw":[]})").ok());
  EXPECT_FALSE(TxJournal::Parse(R"({"v":1,"raw":["0x02c0"]})").ok());
  EXPECT_FALSE(TxJournal::Parse("not json").ok());
}

// ---- logs ----

jsonrpc::Log FactoryLog(const Address& emitter, const Address& app, const Address& deployer) {
  jsonrpc::Log l;
  l.address = emitter;
  std::array<uint8_t, 32> t1{}, t2{};
  std::copy(app.array().begin(), app.array().end(), t1.begin() + 12);
  std::copy(deployer.array().begin(), deployer.array().end(), t2.begin() + 12);
  l.topics = {AppDeployedViaFactoryTopic(), Hash32(t1), Hash32(t2)};
  return l;
}

TEST(Receipts, FactoryEventMustComeFromTheKms) {
  const Address app = *Address::Parse("0xa16e02e87b7454126e5e10d957a927a7f5b5d2be");
  const Address decoy_app = *Address::Parse("0x00000000000000000000000000000000000bad00");
  const Address me = *Address::Parse("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
  jsonrpc::Receipt r;
  r.logs = {FactoryLog(kOther, decoy_app, me), FactoryLog(kKms, app, me), FactoryLog(kKms, app, me)};
  absl::StatusOr<AppDeployedEvent> e = FindAppDeployed(r, kKms);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->app_id, app);
  EXPECT_EQ(e->deployer, me);

  r.logs = {FactoryLog(kOther, decoy_app, me)};
  absl::Status s = FindAppDeployed(r, kKms).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(s.message(), "(1 logs, 1 with that topic from other addresses)")) << s;

  r.logs = {FactoryLog(kKms, app, me), FactoryLog(kKms, decoy_app, me)};
  EXPECT_TRUE(absl::StrContains(FindAppDeployed(r, kKms).status().message(), "two apps"));

  jsonrpc::Log bad = FactoryLog(kKms, app, me);
  bad.topics[1].data()[0] = 1;  // not an address word
  r.logs = {bad};
  EXPECT_FALSE(FindAppDeployed(r, kKms).ok());
}

TEST(Receipts, ComposeHashAdded) {
  const Address app = *Address::Parse("0xa16e02e87b7454126e5e10d957a927a7f5b5d2be");
  jsonrpc::Log l;
  l.address = app;
  l.topics = {ComposeHashAddedTopic()};
  l.data.assign(32, 0x44);
  jsonrpc::Receipt r;
  r.logs = {l};
  EXPECT_TRUE(VerifyComposeHashAdded(r, app, H(0x44)).ok());
  EXPECT_FALSE(VerifyComposeHashAdded(r, app, H(0x45)).ok());
  EXPECT_FALSE(VerifyComposeHashAdded(r, kOther, H(0x44)).ok());
  EXPECT_EQ(*DecodeBoolWord(*FromHex("0x0000000000000000000000000000000000000000000000000000000000000001")), true);
  EXPECT_FALSE(DecodeBoolWord(*FromHex("0x")).ok());
  EXPECT_FALSE(DecodeAddressWord(*FromHex("0x01")).ok());
}

// ---- nonce allocation under concurrency (scripted node) ----

// The allocator of anvil's key #0 on chain 31337 against a scripted JSON-RPC node: `answer` gives
// each call's result from its method and params (called on the server's threads).
struct ScriptedNode {
  using Answer = std::function<json::value(const json::string& method, const json::array& params)>;
  explicit ScriptedNode(Answer answer)
      : server(*::platform::http::testing::FakeHttpServer::Start([answer](const std::string& body) {
          json::object req = json::parse(body).as_object();
          json::object res{{"jsonrpc", "2.0"}, {"id", req.at("id")}};
          res["result"] = answer(req.at("method").as_string(), req.at("params").as_array());
          return ::platform::http::testing::FakeReply{.body = json::serialize(res)};
        })),
        rpc(*jsonrpc::Client::Create({.endpoints = {server->url()}})),
        signer(*LocalKeySigner::FromHex(kKey0)),
        nonces(*rpc, *signer, 31337, signer->address()) {}
  std::unique_ptr<::platform::http::testing::FakeHttpServer> server;
  std::unique_ptr<jsonrpc::Client> rpc;
  std::unique_ptr<LocalKeySigner> signer;
  NonceAllocator nonces;
};

TEST(NonceAllocator, ConcurrentCallersGetContiguousNoncesAndAFailedSignatureLeavesNoGap) {
  std::atomic<int> count_reads{0};
  ScriptedNode node([&](const json::string& method, const json::array&) -> json::value {
    if (method != "eth_getTransactionCount") return nullptr;
    count_reads.fetch_add(1);
    return "0x5";
  });
  NonceAllocator& nonces = node.nonces;
  LocalKeySigner* signer = node.signer.get();

  // The very first signature fails: nonce 5 must stay free.
  signer->FailNext(absl::UnavailableError("signer restarting"));
  TxEnvelope env{.gas_limit = 50000, .max_fee_per_gas = U256(2000), .max_priority_fee_per_gas = U256(1000)};
  EXPECT_EQ(nonces.SignNext(TxIntent::AddComposeHash(kOther, H(1)), env, nullptr).status().code(),
            absl::StatusCode::kUnavailable);

  constexpr int kThreads = 8, kPer = 5;
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        absl::StatusOr<SignedTx> tx =
            nonces.SignNext(TxIntent::AddComposeHash(kOther, H(static_cast<uint8_t>(1 + t * kPer + i))), env, nullptr);
        ASSERT_TRUE(tx.ok()) << tx.status();
        got[t].push_back(tx->nonce);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<uint64_t> all;
  for (const auto& g : got) all.insert(g.begin(), g.end());
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPer));
  EXPECT_EQ(*all.begin(), 5u);
  EXPECT_EQ(*all.rbegin(), 5u + kThreads * kPer - 1);
  EXPECT_EQ(nonces.stats().in_flight, static_cast<uint64_t>(kThreads * kPer));
  EXPECT_EQ(count_reads.load(), 2) << "the chain is read once (plus the failed attempt), then a local counter";

  // The journal callback sees every version; a failing journal stops the caller.
  std::vector<std::string> journal;
  absl::StatusOr<SignedTx> tx =
      nonces.SignNext(TxIntent::AddComposeHash(kOther, H(0x99)), env, [&](const TxJournal& j) {
        journal.push_back(j.Serialize());
        return absl::OkStatus();
      });
  ASSERT_TRUE(tx.ok());
  ASSERT_EQ(journal.size(), 1u);
  EXPECT_EQ(TxJournal::Parse(journal[0])->newest().hash, tx->hash);
  absl::Status failed = nonces
                            .SignNext(TxIntent::AddComposeHash(kOther, H(0x98)), env,
                                      [](const TxJournal&) { return absl::DataLossError("disk full"); })
                            .status();
  EXPECT_EQ(failed.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(failed.message(), "disk full")) << failed;

  // Adopting a journal of another sender is refused.
  auto other = *LocalKeySigner::FromHex("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
  TxEnvelope oenv = env;
  oenv.chain_id = 31337;
  oenv.from = other->address();
  absl::StatusOr<SignedTx> foreign = other->SignAddComposeHash(oenv, kOther, H(5));
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(nonces.Adopt(*TxJournal::FromVersions({foreign->raw}), nullptr).code(), absl::StatusCode::kInvalidArgument);
}

// eth_getTransactionReceipt's answer for `hash`: mined in block 16, successful, sent by kKey0.
json::value MinedReceipt(json::value hash) {
  return json::object{{"transactionHash", std::move(hash)},
                      {"transactionIndex", "0x0"},
                      {"blockHash", H(7).Hex()},
                      {"blockNumber", "0x10"},
                      {"from", LocalKeySigner::FromHex(kKey0).value()->address().Hex()},
                      {"gasUsed", "0x5208"},
                      {"cumulativeGasUsed", "0x5208"},
                      {"status", "0x1"},
                      {"logs", json::array{}}};
}

// A poll without a receipt right after the node accepted the transaction does not ask whether
// the node still knows it (it just said so): one JSON-RPC exchange less per poll while a
// transaction waits for its block.
TEST(NonceAllocator, PollsRightAfterAnAcceptedBroadcastAskOnlyForTheReceipt) {
  std::atomic<int> receipt_polls{0}, known_asks{0};
  std::string sent_hash;
  absl::Mutex mu;
  ScriptedNode node([&](const json::string& method, const json::array& params) -> json::value {
    absl::MutexLock l(&mu);
    if (method == "eth_getTransactionCount") return "0x5";
    if (method == "eth_sendRawTransaction") {
      sent_hash = Keccak256(*FromHex(std::string(params[0].as_string()))).Hex();
      return json::string(sent_hash);
    }
    if (method == "eth_getTransactionReceipt" && receipt_polls.fetch_add(1) >= 3) {
      return MinedReceipt(json::string(sent_hash));
    }
    if (method == "eth_getTransactionByHash") known_asks.fetch_add(1);
    return nullptr;
  });
  NonceAllocator& nonces = node.nonces;
  TxEnvelope env{.gas_limit = 50000, .max_fee_per_gas = U256(2000), .max_priority_fee_per_gas = U256(1000)};
  absl::StatusOr<SignedTx> tx = nonces.SignNext(TxIntent::AddComposeHash(kOther, H(1)), env, nullptr);
  ASSERT_TRUE(tx.ok()) << tx.status();

  const WaitOptions wait{.first_poll = absl::Milliseconds(1), .poll_interval = absl::Seconds(30)};
  absl::StatusOr<MinedTx> mined = nonces.SubmitAndWait(tx->nonce, wait, {});
  ASSERT_TRUE(mined.ok()) << mined.status();
  EXPECT_EQ(mined->tx.hash, tx->hash);
  EXPECT_EQ(receipt_polls.load(), 4) << "at once, then three more until the receipt came";
  EXPECT_EQ(known_asks.load(), 0) << "the node accepted it within the last poll_interval";
  EXPECT_EQ(mined->broadcasts, 1);
}

// After a broadcast the node just accepted, the receipt is polled at once only while that finds
// receipts (a dev node mining on arrival); on a node that does not, later waits skip it (one
// request per transaction less) and every recheck_poll_at_once-th tries again. The waits here
// end at their deadline: the next poll would come an hour after the first.
TEST(NonceAllocator, PollsAtOnceOnlyWhileThatFindsReceipts) {
  std::atomic<int> receipt_polls{0};
  std::atomic<bool> mines_on_arrival{false};
  ScriptedNode node([&](const json::string& method, const json::array& params) -> json::value {
    if (method == "eth_getTransactionCount") return "0x5";
    if (method == "eth_sendRawTransaction")
      return json::string(Keccak256(*FromHex(std::string(params[0].as_string()))).Hex());
    if (method == "eth_getTransactionReceipt") {
      receipt_polls.fetch_add(1);
      if (!mines_on_arrival.load()) return nullptr;
      return MinedReceipt(params[0]);
    }
    return nullptr;
  });
  NonceAllocator& nonces = node.nonces;
  TxEnvelope env{.gas_limit = 50000, .max_fee_per_gas = U256(2000), .max_priority_fee_per_gas = U256(1000)};
  const WaitOptions wait{.first_poll = absl::Hours(1), .recheck_poll_at_once = 3, .poll_interval = absl::Hours(1)};
  uint8_t k = 0;
  // Signs and waits for one transaction; the receipt polls it made.
  auto one = [&](absl::StatusCode want) {
    absl::StatusOr<SignedTx> tx = nonces.SignNext(TxIntent::AddComposeHash(kOther, H(++k)), env, nullptr);
    EXPECT_TRUE(tx.ok()) << tx.status();
    const int before = receipt_polls.load();
    jsonrpc::CallOptions call;
    call.deadline = absl::Now() + absl::Seconds(1);
    EXPECT_EQ(nonces.SubmitAndWait(tx->nonce, wait, call).status().code(), want) << "transaction " << int{k};
    return receipt_polls.load() - before;
  };
  const absl::StatusCode kPending = absl::StatusCode::kDeadlineExceeded;
  EXPECT_EQ(one(kPending), 1) << "polled at once: nothing";
  EXPECT_EQ(one(kPending), 0) << "skipped";
  EXPECT_EQ(one(kPending), 0) << "skipped";
  EXPECT_EQ(one(kPending), 1) << "the third: tried again, nothing";
  mines_on_arrival = true;
  EXPECT_EQ(one(kPending), 0) << "skipped: this wait would find it only at its next poll";
  EXPECT_EQ(one(kPending), 0) << "skipped";
  EXPECT_EQ(one(absl::StatusCode::kOk), 1) << "tried again: mined";
  EXPECT_EQ(one(absl::StatusCode::kOk), 1) << "at once again";
}

}  // namespace
}  // namespace chain::onchain
