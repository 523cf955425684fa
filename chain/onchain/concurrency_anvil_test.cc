// 50 concurrent deploys from one key: all land, 50 distinct appIds, 50 distinct contiguous
// nonces, no signature refused or repeated. Then 50 concurrent addComposeHash, one per app.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "chain/abi.h"
#include "chain/onchain/operations.h"
#include "chain/onchain/testing/anvil_env.h"
#include "platform/testing/wait_for.h"

namespace chain::onchain {
namespace {

using testing::AnvilEnv;
using testing::TestHash;

constexpr int kN = 50;

// These tests count signatures: no fee bump of a transaction that a loaded machine (the suite
// runs tests side by side) kept pending past FastOptions' 1 s.
OperationOptions WithoutFeeBumps() {
  OperationOptions o = testing::FastOptions();
  o.nonces.stuck_after = absl::Minutes(10);
  return o;
}

// A signer in front of the test key that counts its calls (a batch is one call), refuses the
// request number `refuse_at` (counted from 0 in signing order) as a policy would, and runs
// `before_first` in its first call (the test waits there until the others queued up behind it).
class BatchObservingSigner final : public TxSigner {
 public:
  BatchObservingSigner(TxSigner& inner, int refuse_at) : inner_(inner), refuse_at_(refuse_at) {}

  absl::StatusOr<SignedTx> SignDeployAndRegisterApp(const TxEnvelope& envelope, const Address& kms,
                                                    const DeployAndRegisterAppParams& params) override {
    Enter();
    return Item({envelope, TxIntent::Deploy(kms, params)});
  }
  absl::StatusOr<SignedTx> SignAddComposeHash(const TxEnvelope& envelope, const Address& app,
                                              const Hash32& compose_hash) override {
    Enter();
    return Item({envelope, TxIntent::AddComposeHash(app, compose_hash)});
  }
  std::vector<absl::StatusOr<SignedTx>> SignBatch(const std::vector<TxRequest>& requests) override {
    Enter();
    std::vector<absl::StatusOr<SignedTx>> out;
    for (const TxRequest& r : requests) {
      if (!out.empty() && !out.back().ok()) {
        out.push_back(NotStartedError("an earlier item of this sender was refused"));
        ++not_started_;
      } else {
        out.push_back(Item(r));
      }
    }
    return out;
  }

  int calls() const { return calls_; }
  // Every item in signing order (call, nonce, outcome): what a failure of the test needs to say.
  std::string Log() const {
    absl::MutexLock l(&log_mu_);
    return log_;
  }
  int not_started() const { return not_started_; }
  std::function<void()> before_first;

 private:
  void Enter() {
    if (calls_++ == 0 && before_first) before_first();
  }
  absl::StatusOr<SignedTx> Item(const TxRequest& r) {
    const int n = requests_++;
    absl::StatusOr<SignedTx> out = n == refuse_at_ ? absl::PermissionDeniedError("refused by the test's policy")
                                                   : r.intent.SignWith(inner_, r.envelope);
    absl::MutexLock l(&log_mu_);
    absl::StrAppend(&log_, "call ", calls_.load(), " item ", n, ": nonce ", r.envelope.nonce, " ",
                    out.ok() ? "signed" : out.status().ToString(), "\n");
    return out;
  }

  TxSigner& inner_;
  const int refuse_at_;
  std::atomic<int> calls_{0};
  std::atomic<int> requests_{0};
  std::atomic<int> not_started_{0};
  mutable absl::Mutex log_mu_;
  std::string log_ ABSL_GUARDED_BY(log_mu_);
};

TEST(Concurrency, FiftyDeploysFromOneKey) {
  absl::StatusOr<std::unique_ptr<AnvilEnv>> e = AnvilEnv::Start({}, WithoutFeeBumps());
  ASSERT_TRUE(e.ok()) << e.status();
  AnvilEnv& env = **e;
  absl::StatusOr<uint64_t> start_nonce = env.rpc->GetTransactionCount(env.sender);
  ASSERT_TRUE(start_nonce.ok());

  std::vector<absl::StatusOr<DeployAppAuthResult>> results(kN, absl::UnknownError("not run"));
  const absl::Time t0 = absl::Now();
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kN; ++i) {
      threads.emplace_back([&, i] { results[i] = env.ops->DeployAppAuth(env.DeployRequest(TestHash(i))); });
    }
    for (std::thread& t : threads) t.join();
  }
  const absl::Duration took = absl::Now() - t0;
  std::cout << kN << " concurrent deploys: " << absl::FormatDuration(took) << "\n";

  std::set<Address> apps;
  std::set<uint64_t> nonces;
  std::set<Hash32> hashes;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    apps.insert(results[i]->app_id);
    nonces.insert(results[i]->nonce);
    hashes.insert(results[i]->tx_hash);
    EXPECT_EQ(results[i]->versions_signed, 1);
    // The chain agrees on the nonce of each transaction.
    absl::StatusOr<std::optional<jsonrpc::TransactionInfo>> tx = env.rpc->GetTransactionByHash(results[i]->tx_hash);
    ASSERT_TRUE(tx.ok() && tx->has_value());
    EXPECT_EQ((*tx)->nonce, results[i]->nonce);
    // Each app allows exactly its own compose hash.
    absl::StatusOr<Bytes> q = abi::EncodeCall("allowedComposeHashes(bytes32)", {abi::Value::FromBytes32(TestHash(i))});
    EXPECT_TRUE(env.CallBool(results[i]->app_id, *q).value_or(false)) << i;
  }
  EXPECT_EQ(apps.size(), static_cast<size_t>(kN));
  EXPECT_EQ(hashes.size(), static_cast<size_t>(kN));
  ASSERT_EQ(nonces.size(), static_cast<size_t>(kN)) << "a nonce was reused";
  EXPECT_EQ(*nonces.begin(), *start_nonce);
  EXPECT_EQ(*nonces.rbegin(), *start_nonce + kN - 1) << "contiguous";
  EXPECT_EQ(env.rpc->GetTransactionCount(env.sender).value_or(0), *start_nonce + kN);
  EXPECT_EQ(env.signer->signatures(), kN);
  EXPECT_EQ(env.signer->refusals(), 0);

  // And 50 concurrent compose-hash additions, one per app.
  std::vector<Address> app_list(apps.begin(), apps.end());
  std::vector<absl::StatusOr<AddComposeHashResult>> adds(kN, absl::UnknownError("not run"));
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kN; ++i) {
      threads.emplace_back([&, i] {
        adds[i] = env.ops->AddComposeHash(
            {.chain_id = env.chain_id, .app = app_list[i], .sender = env.sender, .compose_hash = TestHash(i, 0xa0)});
      });
    }
    for (std::thread& t : threads) t.join();
  }
  std::set<uint64_t> add_nonces;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(adds[i].ok()) << i << ": " << adds[i].status();
    EXPECT_FALSE(adds[i]->already_allowed);
    add_nonces.insert(adds[i]->nonce);
  }
  EXPECT_EQ(add_nonces.size(), static_cast<size_t>(kN));
  EXPECT_EQ(*add_nonces.begin(), *start_nonce + kN);
  EXPECT_EQ(env.signer->refusals(), 0);
}

// The deploys that queue up behind one sender are signed in batches; a refusal inside a batch
// fails only its own deploy, and the requests after it are signed again at the next nonces: no
// nonce gap, every other deploy lands.
TEST(Concurrency, QueuedDeploysAreSignedInBatchesAndARefusalInOneLeavesNoGap) {
  absl::StatusOr<std::unique_ptr<AnvilEnv>> e = AnvilEnv::Start();
  ASSERT_TRUE(e.ok()) << e.status();
  AnvilEnv& env = **e;
  absl::StatusOr<uint64_t> start_nonce = env.rpc->GetTransactionCount(env.sender);
  ASSERT_TRUE(start_nonce.ok());
  BatchObservingSigner signer(*env.signer, /*refuse_at=*/5);
  OnchainOperations ops(*env.rpc, signer, WithoutFeeBumps());
  signer.before_first = [&] {
    EXPECT_TRUE(platform::testing::WaitFor([&] {
      return ops.nonces(env.chain_id, env.sender).stats().queued == static_cast<uint64_t>(kN - 1);
    })) << "the other deploys never queued up behind the first signature";
  };

  std::vector<absl::StatusOr<DeployAppAuthResult>> results(kN, absl::UnknownError("not run"));
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kN; ++i) {
      threads.emplace_back([&, i] { results[i] = ops.DeployAppAuth(env.DeployRequest(TestHash(i))); });
    }
    for (std::thread& t : threads) t.join();
  }
  int refused = 0;
  std::set<uint64_t> nonces;
  for (int i = 0; i < kN; ++i) {
    if (!results[i].ok()) {
      EXPECT_TRUE(absl::IsPermissionDenied(results[i].status())) << i << ": " << results[i].status();
      ++refused;
      continue;
    }
    nonces.insert(results[i]->nonce);
    absl::StatusOr<std::optional<jsonrpc::TransactionInfo>> tx = env.rpc->GetTransactionByHash(results[i]->tx_hash);
    ASSERT_TRUE(tx.ok() && tx->has_value());
    EXPECT_EQ((*tx)->nonce, results[i]->nonce);
  }
  EXPECT_EQ(refused, 1) << "start nonce " << *start_nonce << "; the signer saw:\n" << signer.Log();
  ASSERT_EQ(nonces.size(), static_cast<size_t>(kN - 1)) << "a nonce was reused";
  EXPECT_EQ(*nonces.begin(), *start_nonce);
  EXPECT_EQ(*nonces.rbegin(), *start_nonce + kN - 2) << "contiguous: the refused request left no gap";
  EXPECT_EQ(env.rpc->GetTransactionCount(env.sender).value_or(0), *start_nonce + kN - 1);
  EXPECT_LT(signer.calls(), kN / 4) << "the queued requests were not batched";
  EXPECT_GT(signer.not_started(), 0) << "the refusal was not inside a batch";
  EXPECT_EQ(env.signer->signatures(), kN - 1);
}

// Holds its first signing call until released, then refuses it (so nothing is in flight and the
// next round reads the chain's nonce); signs the others through the test key.
class FirstCallGate final : public TxSigner {
 public:
  explicit FirstCallGate(TxSigner& inner) : inner_(inner) {}
  absl::StatusOr<SignedTx> SignDeployAndRegisterApp(const TxEnvelope& e, const Address& kms,
                                                    const DeployAndRegisterAppParams& p) override {
    if (first_.exchange(false)) {
      entered.Notify();
      release.WaitForNotification();
      return absl::PermissionDeniedError("refused by the test");
    }
    return inner_.SignDeployAndRegisterApp(e, kms, p);
  }
  absl::StatusOr<SignedTx> SignAddComposeHash(const TxEnvelope& e, const Address& app, const Hash32& h) override {
    return inner_.SignAddComposeHash(e, app, h);
  }
  absl::Notification entered;
  absl::Notification release;

 private:
  TxSigner& inner_;
  std::atomic<bool> first_{true};
};

// A round of the sender's queue reads the chain's nonce for every request in it: one request's
// cancellation must not fail the others. Which of the two queued callers leads the round is up
// to the scheduler, so this repeats 20 times (it failed in about half of them when the round read
// with its leader's options).
TEST(Concurrency, ACancelledRequestDoesNotFailTheOthersOfItsRound) {
  absl::StatusOr<std::unique_ptr<AnvilEnv>> e = AnvilEnv::Start({}, WithoutFeeBumps());
  ASSERT_TRUE(e.ok()) << e.status();
  AnvilEnv& env = **e;
  for (int round = 0; round < 20; ++round) {
    // A key of its own per repetition: nothing is broadcast, so each one signs the same nonces.
    std::unique_ptr<LocalKeySigner> key = *LocalKeySigner::FromHex(anvil::kDeployerPrivateKey);
    FirstCallGate gate(*key);
    NonceAllocator nonces(*env.rpc, gate, env.chain_id, env.sender, WithoutFeeBumps().nonces);
    auto sign = [&](int i, const jsonrpc::CallOptions& opts) {
      DeployAppAuthRequest r = env.DeployRequest(TestHash(1000 + round * 3 + i));
      r.params.initial_owner = env.sender;
      TxEnvelope envelope{.request_id = absl::StrCat("op_", round, "_", i, "/deploy"),
                          .gas_limit = 1500000,
                          .max_fee_per_gas = U256(2000000000),
                          .max_priority_fee_per_gas = U256(1000000000)};
      return nonces.SignNext(TxIntent::Deploy(env.kms, r.params), envelope, nullptr, opts);
    };
    absl::StatusOr<SignedTx> first, cancelled, other;
    std::thread holder([&] { first = sign(0, {}); });
    gate.entered.WaitForNotification();
    jsonrpc::CancelToken token;
    token.Cancel();
    std::thread t1([&] { cancelled = sign(1, {.cancel = &token}); });
    std::thread t2([&] { other = sign(2, {}); });
    EXPECT_TRUE(platform::testing::WaitFor([&] { return nonces.stats().queued == 2; }))
        << "both queue up behind the held call";
    gate.release.Notify();
    holder.join();
    t1.join();
    t2.join();
    EXPECT_EQ(first.status().code(), absl::StatusCode::kPermissionDenied);
    ASSERT_TRUE(other.ok()) << "round " << round << ": " << other.status();
    if (cancelled.ok()) nonces.Release(cancelled->nonce);
    nonces.Release(other->nonce);
  }
}

}  // namespace
}  // namespace chain::onchain
