// The hard cases against anvil: endpoints down and back (failover and a single endpoint), a
// dropped transaction, a gap left by a cancelled operation, a low-fee transaction stuck below the
// market (fee bump), a snapshot revert that removes a mined transaction, the key used by
// someone else, and resuming after a restart from the journal.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <string>
#include <thread>

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "chain/hex.h"
#include "chain/onchain/operations.h"
#include "chain/onchain/testing/anvil_env.h"
#include "platform/http/client.h"
#include "platform/http/testing/fake_server.h"
#include "platform/http/url.h"
#include "platform/testing/wait_for.h"

namespace chain::onchain {
namespace {

namespace json = boost::json;
using testing::AnvilEnv;
using testing::Miner;
using testing::TestHash;
using Proxy = ::platform::http::testing::TcpProxy;
using ::platform::testing::WaitFor;

std::unique_ptr<AnvilEnv> MustStart(const anvil::Options& o = {},
                                    const OperationOptions& ops = testing::FastOptions()) {
  absl::StatusOr<std::unique_ptr<AnvilEnv>> env = AnvilEnv::Start(o, ops);
  EXPECT_TRUE(env.ok()) << env.status();
  return env.ok() ? *std::move(env) : nullptr;
}

// Collects journals handed to on_signed.
struct Journals {
  absl::Mutex mu;
  std::vector<TxJournal> all;
  JournalFn fn() {
    return [this](const TxJournal& j) {
      absl::MutexLock l(&mu);
      all.push_back(j);
      return absl::OkStatus();
    };
  }
  std::optional<TxJournal> last() {
    absl::MutexLock l(&mu);
    if (all.empty()) return std::nullopt;
    return all.back();
  }
};

// Counts the allocators' TxEvents (NonceAllocatorOptions::observer).
struct TxEvents {
  absl::Mutex mu;
  std::map<TxEvent, int> n;
  OperationOptions Observing(OperationOptions o = testing::FastOptions()) {
    o.nonces.observer = [this](TxEvent e) {
      absl::MutexLock l(&mu);
      ++n[e];
    };
    return o;
  }
  int operator[](TxEvent e) {
    absl::MutexLock l(&mu);
    return n[e];
  }
};

// A JSON-RPC endpoint in front of anvil that forwards every request and counts the receipts it
// hands out: "the waiter has seen the receipt" as an event instead of a sleep.
class ReceiptCountingRpc {
 public:
  static std::unique_ptr<ReceiptCountingRpc> Start(const std::string& upstream) {
    auto rpc = std::unique_ptr<ReceiptCountingRpc>(new ReceiptCountingRpc());
    absl::StatusOr<platform::http::Url> url = platform::http::ParseUrl(upstream);
    if (!url.ok()) return nullptr;
    absl::StatusOr<std::unique_ptr<platform::http::Client>> client = platform::http::Client::Create(*url, {});
    if (!client.ok()) return nullptr;
    rpc->upstream_ = *std::move(client);
    absl::StatusOr<std::unique_ptr<platform::http::testing::FakeHttpServer>> server =
        platform::http::testing::FakeHttpServer::Start(
            [r = rpc.get()](const std::string& body) { return r->Forward(body); });
    if (!server.ok()) return nullptr;
    rpc->server_ = *std::move(server);
    return rpc;
  }
  std::string url() const { return server_->url(); }
  int receipts() const { return receipts_.load(); }

 private:
  ReceiptCountingRpc() = default;
  platform::http::testing::FakeReply Forward(const std::string& body) {
    absl::StatusOr<platform::http::Response> r;
    {
      absl::MutexLock l(&mu_);
      r = upstream_->Send({.method = "POST",
                           .target = "/",
                           .headers = {{"Content-Type", "application/json"}},
                           .body = body,
                           .idempotent = true});
    }
    if (!r.ok()) return {.drop = true};
    if (absl::StrContains(body, "eth_getTransactionReceipt")) {
      boost::system::error_code ec;
      const json::value v = json::parse(r->body, ec);
      if (!ec && v.is_object() && v.as_object().contains("result") && !v.as_object().at("result").is_null()) {
        ++receipts_;
      }
    }
    return {.status = static_cast<unsigned>(r->status), .body = r->body};
  }

  absl::Mutex mu_;
  std::unique_ptr<platform::http::Client> upstream_;
  std::unique_ptr<platform::http::testing::FakeHttpServer> server_;
  std::atomic<int> receipts_{0};
};

bool Known(AnvilEnv& env, const Hash32& h) {
  absl::StatusOr<std::optional<jsonrpc::TransactionInfo>> t = env.rpc->GetTransactionByHash(h);
  return t.ok() && t->has_value();
}
bool Mined(AnvilEnv& env, const Hash32& h) {
  absl::StatusOr<std::optional<jsonrpc::Receipt>> r = env.rpc->GetTransactionReceipt(h);
  return r.ok() && r->has_value();
}

// True once the newest transaction journaled in `journals` is in anvil's pool.
bool NewestKnown(AnvilEnv& env, Journals& journals) {
  std::optional<TxJournal> last = journals.last();
  return last.has_value() && Known(env, last->newest().hash);
}

// DeployAppAuth of TestHash(n) through `ops` on another thread, journaling into `journals`.
std::future<absl::StatusOr<DeployAppAuthResult>> DeployAsync(OnchainOperations& ops, AnvilEnv& env, uint64_t n,
                                                             Journals& journals,
                                                             const jsonrpc::CancelToken* cancel = nullptr) {
  return std::async(std::launch::async, [&ops, &env, n, &journals, cancel] {
    return ops.DeployAppAuth(env.DeployRequest(TestHash(n)), {.call = {.cancel = cancel}, .on_signed = journals.fn()});
  });
}

std::unique_ptr<jsonrpc::Client> MakeClient(std::vector<std::string> endpoints, absl::Duration request_timeout,
                                            int attempts) {
  jsonrpc::ClientOptions o = testing::FastClientOptions(std::move(endpoints));
  o.transport.request_timeout = request_timeout;
  o.retry.max_attempts = attempts;
  absl::StatusOr<std::unique_ptr<jsonrpc::Client>> c = jsonrpc::Client::Create(o);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

TEST(Endpoints, FailoverToASecondEndpoint) {
  auto env = MustStart();
  ASSERT_NE(env, nullptr);
  absl::StatusOr<std::unique_ptr<Proxy>> a = Proxy::Start(env->anvil->port());
  absl::StatusOr<std::unique_ptr<Proxy>> b = Proxy::Start(env->anvil->port());
  ASSERT_TRUE(a.ok() && b.ok());
  auto rpc = MakeClient({(*a)->url(), (*b)->url()}, absl::Milliseconds(500), 4);
  OnchainOperations ops(*rpc, *env->signer, testing::FastOptions());

  // Refused connections on the first endpoint.
  (*a)->StopListening();
  absl::StatusOr<DeployAppAuthResult> r1 = ops.DeployAppAuth(env->DeployRequest(TestHash(1)));
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_GE(rpc->endpoint_states()[0].failures, 1u);

  // The first endpoint back, then the second one frozen mid-flight (accepts, never answers).
  ASSERT_TRUE((*a)->Listen().ok());
  absl::SleepFor(absl::Seconds(2));  // let the first endpoint's cool-down pass
  (*b)->set_mode(Proxy::Mode::kHang);
  absl::StatusOr<DeployAppAuthResult> r2 = ops.DeployAppAuth(env->DeployRequest(TestHash(2)));
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_NE(r1->app_id, r2->app_id);
  EXPECT_EQ(r2->nonce, r1->nonce + 1);
}

TEST(Endpoints, SingleEndpointDownThenBack) {
  auto env = MustStart();
  ASSERT_NE(env, nullptr);
  // Each exchange waits at most 300 ms; up to 30 tries with backoff cover a ~2 s outage.
  jsonrpc::ClientOptions o = testing::FastClientOptions({env->anvil->chain().rpc_url});
  o.transport.request_timeout = absl::Milliseconds(300);
  o.retry.max_attempts = 30;
  o.retry.max_backoff = absl::Milliseconds(100);
  auto rpc = jsonrpc::Client::Create(o);
  ASSERT_TRUE(rpc.ok());
  // No fee bump while the node is down (FastOptions' stuck_after, 1 s, is the outage's length):
  // a bump signed then could reach the pool after the test's Mine, and the mined version would
  // not be the newest journaled one. Bumps have their own tests below.
  OperationOptions no_bumps = testing::FastOptions();
  no_bumps.nonces.stuck_after = absl::Minutes(10);
  OnchainOperations ops(**rpc, *env->signer, no_bumps);

  ASSERT_TRUE(env->anvil->Pause().ok());
  const absl::Time t0 = absl::Now();
  auto result = std::async(std::launch::async, [&] { return ops.DeployAppAuth(env->DeployRequest(TestHash(1))); });
  absl::SleepFor(absl::Milliseconds(1500));
  ASSERT_TRUE(env->anvil->Resume().ok());
  absl::StatusOr<DeployAppAuthResult> r = result.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(absl::Now() - t0, absl::Milliseconds(1500));
  EXPECT_GE((*rpc)->endpoint_states()[0].failures, 1u);

  // Down while waiting for the receipt: the wait rides it out too.
  ASSERT_TRUE(env->anvil->SetAutomine(false).ok());
  Journals journals;
  auto second = DeployAsync(ops, *env, 2, journals);
  ASSERT_TRUE(WaitFor([&] { return NewestKnown(*env, journals); }));
  ASSERT_TRUE(env->anvil->Pause().ok());
  absl::SleepFor(absl::Seconds(1));
  ASSERT_TRUE(env->anvil->Resume().ok());
  ASSERT_TRUE(env->anvil->Mine().ok());
  absl::StatusOr<DeployAppAuthResult> r2 = second.get();
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->tx_hash, journals.last()->newest().hash);
}

TEST(Transactions, DroppedTransactionIsBroadcastAgain) {
  auto env = MustStart({.automine = false});
  ASSERT_NE(env, nullptr);
  Journals journals;
  auto result = DeployAsync(*env->ops, *env, 1, journals);
  ASSERT_TRUE(WaitFor([&] { return NewestKnown(*env, journals); }));
  const Hash32 h = journals.last()->newest().hash;
  ASSERT_TRUE(env->anvil->DropTransaction(h.Hex()).ok());  // NotFound unless anvil held it
  // The waiter notices and sends the same bytes again.
  ASSERT_TRUE(WaitFor([&] { return Known(*env, h); }));
  ASSERT_TRUE(env->anvil->Mine().ok());
  absl::StatusOr<DeployAppAuthResult> r = result.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tx_hash, h);
  EXPECT_GE(r->broadcasts, 2);
  EXPECT_EQ(env->signer->signatures(), 1) << "never a second signature";
}

TEST(Transactions, GapLeftByACancelledOperationIsHealed) {
  TxEvents events;
  auto env = MustStart({.automine = false}, events.Observing());
  ASSERT_NE(env, nullptr);
  Journals ja, jb;
  jsonrpc::CancelToken cancel_a;
  auto a = DeployAsync(*env->ops, *env, 1, ja, &cancel_a);
  ASSERT_TRUE(WaitFor([&] { return NewestKnown(*env, ja); }));
  auto b = DeployAsync(*env->ops, *env, 2, jb);
  ASSERT_TRUE(WaitFor([&] { return NewestKnown(*env, jb); }));
  const Hash32 ha = ja.last()->newest().hash;
  const Hash32 hb = jb.last()->newest().hash;
  EXPECT_EQ(jb.last()->nonce, ja.last()->nonce + 1);

  // A gives up; its transaction then disappears from the pool: B's nonce is now unreachable.
  cancel_a.Cancel();
  absl::StatusOr<DeployAppAuthResult> ra = a.get();
  EXPECT_EQ(ra.status().code(), absl::StatusCode::kCancelled) << ra.status();
  EXPECT_TRUE(absl::StrContains(ra.status().message(), "stays tracked")) << ra.status();
  ASSERT_TRUE(env->anvil->DropTransaction(ha.Hex()).ok());

  // B's waiter heals the gap with A's own bytes; then both are mined.
  ASSERT_TRUE(WaitFor([&] { return Known(*env, ha); })) << "gap not healed";
  ASSERT_TRUE(env->anvil->Mine().ok());
  absl::StatusOr<DeployAppAuthResult> rb = b.get();
  ASSERT_TRUE(rb.ok()) << rb.status();
  EXPECT_EQ(rb->tx_hash, hb);
  EXPECT_TRUE(Mined(*env, ha));
  EXPECT_GE(env->ops->nonces(env->chain_id, env->sender).stats().rebroadcasts, 1u);
  EXPECT_EQ(env->signer->signatures(), 2);
  EXPECT_EQ(events[TxEvent::kSent], 2);
  EXPECT_GE(events[TxEvent::kRebroadcast], 1);
  EXPECT_EQ(events[TxEvent::kFeeBump], 0);
}

TEST(Transactions, PricedOutByTheMarketIsReplacedWithAFeeBump) {
  TxEvents events;
  auto env = MustStart({.automine = false}, events.Observing());
  ASSERT_NE(env, nullptr);
  Journals journals;
  auto result = DeployAsync(*env->ops, *env, 1, journals);
  ASSERT_TRUE(WaitFor([&] { return NewestKnown(*env, journals); }));
  const SignedTx first = journals.last()->newest();
  // The market jumps: the next block's base fee is far above our max fee, so the block is
  // mined without us. Then blocks keep coming while the base fee decays.
  ASSERT_TRUE(
      env->anvil->Call("anvil_setNextBlockBaseFeePerGas", {json::string(U256(60'000'000'000).ToQuantityHex())}).ok());
  ASSERT_TRUE(env->anvil->Mine().ok());
  EXPECT_FALSE(Mined(*env, first.hash));
  absl::StatusOr<DeployAppAuthResult> r;
  {
    Miner miner(*env->anvil, absl::Milliseconds(300));
    r = result.get();
  }
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(r->versions_signed, 2);
  EXPECT_NE(r->tx_hash, first.hash);
  EXPECT_FALSE(Mined(*env, first.hash)) << "replaced";
  std::optional<TxJournal> j = journals.last();
  ASSERT_TRUE(j.has_value());
  ASSERT_GE(j->versions.size(), 2u);
  const SignedTx& bump = j->versions[1];
  // Priced at the market now: the next base fee (~52 gwei after the 60 gwei block) doubled.
  EXPECT_GT(bump.max_fee_per_gas, U256(50'000'000'000));
  // Same call, same nonce, both fees >= +10% (the signer enforces it, too: no refusal).
  EXPECT_EQ(bump.nonce, first.nonce);
  EXPECT_EQ(bump.data, first.data);
  EXPECT_EQ(bump.to, first.to);
  EXPECT_GE(*U256::CheckedMul(bump.max_fee_per_gas, U256(10)), *U256::CheckedMul(first.max_fee_per_gas, U256(11)));
  EXPECT_GE(*U256::CheckedMul(bump.max_priority_fee_per_gas, U256(10)),
            *U256::CheckedMul(first.max_priority_fee_per_gas, U256(11)));
  EXPECT_EQ(env->signer->refusals(), 0);
  EXPECT_GE(env->ops->nonces(env->chain_id, env->sender).stats().fee_bumps, 1u);
  EXPECT_EQ(events[TxEvent::kSent], 1);
  EXPECT_EQ(events[TxEvent::kFeeBump], r->versions_signed - 1);
}

TEST(Transactions, StuckPendingIsReplacedWithAFeeBumpAfterStuckAfter) {
  // Pending and not mined for longer than stuck_after (1 s here): replaced by the same call
  // with both fees raised, which is what lands.
  auto env = MustStart({.automine = false});
  ASSERT_NE(env, nullptr);
  Journals journals;
  auto result = DeployAsync(*env->ops, *env, 1, journals);
  ASSERT_TRUE(WaitFor([&] { return journals.last().has_value() && journals.last()->versions.size() >= 2; }));
  const TxJournal j = *journals.last();
  EXPECT_FALSE(Known(*env, j.versions[0].hash)) << "replaced in the pool";
  EXPECT_TRUE(Known(*env, j.versions[1].hash));
  ASSERT_TRUE(env->anvil->Mine().ok());
  absl::StatusOr<DeployAppAuthResult> r = result.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tx_hash, j.versions[1].hash);
  EXPECT_EQ(r->nonce, j.nonce);
  EXPECT_GE(*U256::CheckedMul(j.versions[1].max_fee_per_gas, U256(100)),
            *U256::CheckedMul(j.versions[0].max_fee_per_gas, U256(115)));
  EXPECT_GE(*U256::CheckedMul(j.versions[1].max_priority_fee_per_gas, U256(100)),
            *U256::CheckedMul(j.versions[0].max_priority_fee_per_gas, U256(115)));
  EXPECT_FALSE(Mined(*env, j.versions[0].hash));
  EXPECT_EQ(env->signer->refusals(), 0);
}

TEST(Transactions, SnapshotRevertRemovesTheMinedTransaction) {
  OperationOptions o = testing::FastOptions();
  o.wait.confirmations = 3;
  auto env = MustStart({}, o);
  ASSERT_NE(env, nullptr);
  std::unique_ptr<ReceiptCountingRpc> counting = ReceiptCountingRpc::Start(env->anvil->chain().rpc_url);
  ASSERT_NE(counting, nullptr);
  absl::StatusOr<std::unique_ptr<jsonrpc::Client>> rpc =
      jsonrpc::Client::Create(testing::FastClientOptions({counting->url()}));
  ASSERT_TRUE(rpc.ok()) << rpc.status();
  OnchainOperations ops(**rpc, *env->signer, o);
  absl::StatusOr<std::string> snapshot = env->anvil->Snapshot();
  ASSERT_TRUE(snapshot.ok());
  Journals journals;
  auto result = DeployAsync(ops, *env, 1, journals);
  ASSERT_TRUE(WaitFor([&] { return journals.last().has_value() && Mined(*env, journals.last()->newest().hash); }));
  const Hash32 h = journals.last()->newest().hash;
  // The waiter has seen the receipt (1 of 3 confirmations), then the block goes.
  ASSERT_TRUE(WaitFor([&] { return counting->receipts() > 0; }));
  ASSERT_TRUE(env->anvil->Revert(*snapshot).ok());
  // The waiter re-broadcasts it (automine mines it again); blocks on top confirm it.
  ASSERT_TRUE(WaitFor([&] { return Mined(*env, h); }));
  absl::StatusOr<DeployAppAuthResult> r;
  {
    Miner miner(*env->anvil, absl::Milliseconds(100));
    r = result.get();
  }
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tx_hash, h) << "the same bytes, not a new signature";
  EXPECT_EQ(r->receipt_vanished, 1);
  EXPECT_GE(r->broadcasts, 2);
  EXPECT_EQ(env->signer->signatures(), 1);
  absl::StatusOr<Bytes> code = env->rpc->GetCode(r->app_id);
  ASSERT_TRUE(code.ok());
  EXPECT_FALSE(code->empty());
}

TEST(Transactions, KeyUsedElsewhereTakesOurNonce) {
  // Someone else spends the next nonce of our key between our signature and its broadcast:
  // none of our versions can ever be mined. Strict (default): ABORTED, nothing else signed.
  // With max_nonce_conflict_resigns: the same call is signed again at a fresh nonce.
  OperationOptions o = testing::FastOptions();
  o.max_nonce_conflict_resigns = 1;
  auto env = MustStart({.automine = false}, o);
  ASSERT_NE(env, nullptr);
  {
    TxEvents events;
    OnchainOperations strict(*env->rpc, *env->signer, events.Observing());
    bool once = false;
    JournalFn steal_once = [&](const TxJournal&) {
      if (!once) {
        once = true;
        EXPECT_TRUE(
            env->anvil->SendTransaction({.to = anvil::kSecondAddress, .data = "0x", .value = "0x1", .gas = 21000})
                .ok());
        EXPECT_TRUE(env->anvil->Mine().ok());
      }
      return absl::OkStatus();
    };
    absl::StatusOr<DeployAppAuthResult> r =
        strict.DeployAppAuth(env->DeployRequest(TestHash(1)), {.on_signed = steal_once});
    EXPECT_TRUE(IsNonceConflict(r.status())) << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), "was used by a transaction that is none of our 1 signed"))
        << r.status();
    EXPECT_EQ(env->signer->signatures(), 1);
    EXPECT_EQ(events[TxEvent::kNonceConflict], 1);
    // The next operation re-reads the nonce and goes through.
    absl::StatusOr<DeployAppAuthResult> next;
    {
      Miner miner(*env->anvil, absl::Milliseconds(100));
      next = strict.DeployAppAuth(env->DeployRequest(TestHash(3)));
    }
    ASSERT_TRUE(next.ok()) << next.status();
  }
  const int before = env->signer->signatures();
  std::atomic<bool> stolen{false};
  std::atomic<uint64_t> stolen_nonce{0};
  JournalFn steal = [&](const TxJournal& j) {
    if (!stolen.exchange(true)) {
      stolen_nonce = j.nonce;
      // eth_sendTransaction from the same (unlocked) account takes nonce j.nonce first.
      absl::StatusOr<std::string> h =
          env->anvil->SendTransaction({.to = anvil::kSecondAddress, .data = "0x", .value = "0x1", .gas = 21000});
      EXPECT_TRUE(h.ok()) << h.status();
      EXPECT_TRUE(env->anvil->Mine().ok());
      (void)j;
    }
    return absl::OkStatus();
  };
  absl::StatusOr<DeployAppAuthResult> r;
  {
    Miner miner(*env->anvil, absl::Milliseconds(100));
    r = env->ops->DeployAppAuth(env->DeployRequest(TestHash(2)), {.on_signed = steal});
  }
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(stolen.load());
  EXPECT_EQ(r->nonce, stolen_nonce.load() + 1) << "signed again at the next free nonce";
  EXPECT_EQ(env->signer->signatures(), before + 2);
  EXPECT_EQ(env->signer->refusals(), 0);
}

TEST(Resume, AfterARestartTheSameBytesAreSentAndAwaited) {
  auto env = MustStart({.automine = false});
  ASSERT_NE(env, nullptr);
  Journals journals;
  jsonrpc::CancelToken cancel;
  auto first = DeployAsync(*env->ops, *env, 1, journals, &cancel);
  ASSERT_TRUE(WaitFor([&] { return NewestKnown(*env, journals); }));
  cancel.Cancel();
  EXPECT_EQ(first.get().status().code(), absl::StatusCode::kCancelled);
  const std::string saved = journals.last()->Serialize();  // what the orchestrator persisted
  const Hash32 h = journals.last()->newest().hash;

  // "Restart": nothing in memory, and the node lost the transaction meanwhile.
  env->Restart();
  ASSERT_TRUE(env->anvil->DropTransaction(h.Hex()).ok());
  const int signatures = env->signer->signatures();

  absl::StatusOr<TxJournal> journal = TxJournal::Parse(saved);
  ASSERT_TRUE(journal.ok()) << journal.status();
  EXPECT_EQ(journal->newest().hash, h);
  absl::StatusOr<DeployAppAuthResult> r;
  {
    Miner miner(*env->anvil, absl::Milliseconds(100));
    r = env->ops->DeployAppAuth(env->DeployRequest(TestHash(1)), {.resume = *journal});
  }
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tx_hash, h);
  EXPECT_EQ(env->signer->signatures(), signatures) << "no new signature on resume";

  // Resuming a finished step is instant and gives the same answer.
  absl::StatusOr<DeployAppAuthResult> again =
      env->ops->DeployAppAuth(env->DeployRequest(TestHash(1)), {.resume = *journal});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->app_id, r->app_id);

  // A journal for another call is refused.
  EXPECT_EQ(env->ops->DeployAppAuth(env->DeployRequest(TestHash(9)), {.resume = *journal}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chain::onchain
