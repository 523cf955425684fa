#include "chain/onchain/testing/shared_nonces_contract.h"

#include <future>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace chain::onchain::testing {
namespace {

bool PoolHas(AnvilEnv& env, const Hash32& h) {
  absl::StatusOr<std::optional<jsonrpc::TransactionInfo>> t = env.rpc->GetTransactionByHash(h);
  return t.ok() && t->has_value();
}

bool Eventually(const std::function<bool()>& pred, absl::Duration timeout) {
  for (const absl::Time end = absl::Now() + timeout; absl::Now() < end; absl::SleepFor(absl::Milliseconds(20))) {
    if (pred()) return true;
  }
  return pred();
}

// The newest transaction one replica's operation signed (its on_signed).
class LastSigned {
 public:
  JournalFn fn() {
    return [this](const TxJournal& j) {
      absl::MutexLock l(&mu_);
      last_ = j;
      return absl::OkStatus();
    };
  }
  std::optional<TxJournal> get() {
    absl::MutexLock l(&mu_);
    return last_;
  }

 private:
  absl::Mutex mu_;
  std::optional<TxJournal> last_;
};

std::future<absl::StatusOr<DeployAppAuthResult>> Deploy(OnchainOperations& ops, AnvilEnv& env, uint64_t n,
                                                        LastSigned& signed_tx,
                                                        const jsonrpc::CancelToken* cancel = nullptr) {
  return std::async(std::launch::async, [&ops, &env, n, &signed_tx, cancel] {
    return ops.DeployAppAuth(env.DeployRequest(TestHash(n)), {.call = {.cancel = cancel}, .on_signed = signed_tx.fn()});
  });
}

// The versions the store holds for `nonce` (empty when it is not open).
std::vector<SignedTx> StoredVersions(NonceStore& store, AnvilEnv& env, uint64_t nonce) {
  absl::StatusOr<std::vector<SlotView>> open = store.Open(env.chain_id, env.sender);
  if (!open.ok()) return {};
  for (const SlotView& s : *open) {
    if (s.nonce == nonce) return s.versions;
  }
  return {};
}

}  // namespace

void SharedNoncesTest::Start(bool automine, const OperationOptions& options) {
  backend_ = GetParam()();
  absl::StatusOr<std::unique_ptr<AnvilEnv>> env = AnvilEnv::Start({.automine = automine});
  ASSERT_TRUE(env.ok()) << env.status();
  env_ = *std::move(env);
  store_a_ = &Replica();
  store_b_ = &Replica();
  a_ = std::make_unique<OnchainOperations>(*env_->rpc, *env_->signer, options, store_a_);
  b_ = std::make_unique<OnchainOperations>(*env_->rpc, *env_->signer, options, store_b_);
}

NonceStore& SharedNoncesTest::Replica() {
  absl::StatusOr<NonceStore*> s = backend_->OpenReplica();
  if (!s.ok()) {
    ADD_FAILURE() << s.status();
    std::abort();
  }
  return **s;
}

TEST_P(SharedNoncesTest, FiftyAllocationsRacingOnTwoReplicasGetConsecutiveNonces) {
  constexpr int kN = 50;
  ASSERT_NO_FATAL_FAILURE(Start(/*automine=*/true));
  const uint64_t start = *env_->rpc->GetTransactionCount(env_->sender);
  std::vector<absl::StatusOr<DeployAppAuthResult>> results(kN, absl::UnknownError("not run"));
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kN; ++i) {
      OnchainOperations& ops = i % 2 == 0 ? *a_ : *b_;
      threads.emplace_back([&, i] { results[i] = ops.DeployAppAuth(env_->DeployRequest(TestHash(i))); });
    }
    for (std::thread& t : threads) t.join();
  }
  std::set<uint64_t> nonces;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    nonces.insert(results[i]->nonce);
  }
  ASSERT_EQ(nonces.size(), static_cast<size_t>(kN)) << "a nonce was used twice";
  EXPECT_EQ(*nonces.begin(), start);
  EXPECT_EQ(*nonces.rbegin(), start + kN - 1) << "no gap";
  EXPECT_EQ(env_->rpc->GetTransactionCount(env_->sender).value_or(0), start + kN);
  EXPECT_EQ(env_->signer->signatures(), kN) << "one signature per nonce";
  EXPECT_EQ(env_->signer->refusals(), 0);
  // A slot is closed (MINED) once its receipt is seen, not only at the next maintenance pass: a
  // store that shows mined nonces as open would look like a gap to the next replica and to ops.
  absl::StatusOr<std::vector<SlotView>> open = store_b_->Open(env_->chain_id, env_->sender);
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_TRUE(open->empty()) << open->size() << " slots still open, the first " << open->front().nonce;
}

// Replicas read the transaction count concurrently: a count one of them read before another saw
// a later receipt is stale, not a reorg. Reopening on it left mined slots open (seen as "3 slots
// still open" in the test above, once in a full run).
TEST_P(SharedNoncesTest, AStaleCountDoesNotReopenASlotAnotherReplicaJustClosed) {
  ASSERT_NO_FATAL_FAILURE(Start(/*automine=*/true));
  const uint64_t start = *env_->rpc->GetTransactionCount(env_->sender);
  absl::StatusOr<DeployAppAuthResult> deployed = a_->DeployAppAuth(env_->DeployRequest(TestHash(7)));
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  ASSERT_EQ(deployed->nonce, start);
  ASSERT_TRUE(store_b_->Open(env_->chain_id, env_->sender)->empty()) << "closed when its receipt was seen";
  ASSERT_TRUE(store_b_->Chain(env_->chain_id, env_->sender, start).ok());  // read before that receipt
  absl::StatusOr<std::vector<SlotView>> open = store_b_->Open(env_->chain_id, env_->sender);
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_TRUE(open->empty()) << "a stale count reopened nonce " << open->front().nonce;
}

TEST_P(SharedNoncesTest, AnOrphanOfADeadReplicaIsSignedAgainAndSentByTheNextAllocator) {
  ASSERT_NO_FATAL_FAILURE(Start(/*automine=*/true));
  const uint64_t start = *env_->rpc->GetTransactionCount(env_->sender);
  // A third replica reserves the next nonce, the signer signs, and the replica dies before it
  // stores the signature (its hold ends: the lock goes with its connection).
  NonceStore& dead = Replica();
  DeployAndRegisterAppParams params = env_->DeployRequest(TestHash(100)).params;
  params.initial_owner = env_->sender;
  const TxIntent intent = TxIntent::Deploy(env_->kms, params);
  TxEnvelope envelope{.request_id = "op_dead/deploy",
                      .chain_id = env_->chain_id,
                      .from = env_->sender,
                      .nonce = start,
                      .gas_limit = 3'000'000,
                      .max_fee_per_gas = U256(20'000'000'000),
                      .max_priority_fee_per_gas = U256(1'000'000'000)};
  absl::StatusOr<SignedTx> lost;
  {
    absl::StatusOr<std::unique_ptr<SenderHold>> hold = dead.Hold(env_->chain_id, env_->sender, {});
    ASSERT_TRUE(hold.ok()) << hold.status();
    ASSERT_TRUE((*hold)->Record({envelope, intent}, /*first=*/true).ok());
    lost = SignIntent(*env_->signer, envelope, intent);
    ASSERT_TRUE(lost.ok()) << lost.status();
  }
  // The next allocation (another replica) repairs it first (REPEAT: the same bytes), takes the
  // nonce after it, and its wait sends the orphan too, so both are mined.
  absl::StatusOr<DeployAppAuthResult> r = b_->DeployAppAuth(env_->DeployRequest(TestHash(1)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->nonce, start + 1);
  EXPECT_EQ(b_->nonces(env_->chain_id, env_->sender).stats().repaired, 1u);
  ASSERT_TRUE(Eventually([&] { return env_->rpc->GetTransactionCount(env_->sender).value_or(0) == start + 2; },
                         absl::Seconds(10)));
  absl::StatusOr<std::optional<jsonrpc::Receipt>> orphan = env_->rpc->GetTransactionReceipt(lost->hash);
  ASSERT_TRUE(orphan.ok() && orphan->has_value()) << "the orphan's own bytes were mined";
  EXPECT_EQ(env_->signer->signatures(), 3) << "the orphan, its REPEAT, the new one";
  EXPECT_EQ(env_->signer->refusals(), 0);
}

TEST_P(SharedNoncesTest, ARefusedFirstRequestLeavesNoGap) {
  ASSERT_NO_FATAL_FAILURE(Start(/*automine=*/true));
  const uint64_t start = *env_->rpc->GetTransactionCount(env_->sender);
  env_->signer->FailNext(absl::PermissionDeniedError("policy: not this app"));
  absl::StatusOr<DeployAppAuthResult> refused = a_->DeployAppAuth(env_->DeployRequest(TestHash(1)));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  absl::StatusOr<DeployAppAuthResult> r = b_->DeployAppAuth(env_->DeployRequest(TestHash(2)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->nonce, start) << "the refused nonce is taken again, by the other replica";
  EXPECT_EQ(env_->rpc->GetTransactionCount(env_->sender).value_or(0), start + 1);
}

TEST_P(SharedNoncesTest, AGapLeftByAnotherReplicaIsHealedWithItsOwnBytes) {
  OperationOptions no_bumps = FastOptions();
  no_bumps.nonces.stuck_after = absl::Minutes(5);  // healing only: the same bytes
  ASSERT_NO_FATAL_FAILURE(Start(/*automine=*/false, no_bumps));
  LastSigned sa, sb;
  jsonrpc::CancelToken cancel_a;
  auto fa = Deploy(*a_, *env_, 1, sa, &cancel_a);
  ASSERT_TRUE(
      Eventually([&] { return sa.get().has_value() && PoolHas(*env_, sa.get()->newest().hash); }, absl::Seconds(10)));
  auto fb = Deploy(*b_, *env_, 2, sb);
  ASSERT_TRUE(
      Eventually([&] { return sb.get().has_value() && PoolHas(*env_, sb.get()->newest().hash); }, absl::Seconds(10)));
  const Hash32 ha = sa.get()->newest().hash;
  EXPECT_EQ(sb.get()->nonce, sa.get()->nonce + 1);
  // A's operation stops waiting (as if its replica died), and its transaction leaves the pool.
  cancel_a.Cancel();
  EXPECT_EQ(fa.get().status().code(), absl::StatusCode::kCancelled);
  ASSERT_TRUE(env_->anvil->DropTransaction(ha.Hex()).ok());
  ASSERT_TRUE(Eventually([&] { return PoolHas(*env_, ha); }, absl::Seconds(5))) << "B did not heal A's nonce";
  absl::StatusOr<DeployAppAuthResult> rb;
  {
    Miner miner(*env_->anvil, absl::Milliseconds(100));
    rb = fb.get();
  }
  ASSERT_TRUE(rb.ok()) << rb.status();
  EXPECT_TRUE(env_->rpc->GetTransactionReceipt(ha).value_or(std::nullopt).has_value()) << "A's own bytes mined";
  EXPECT_EQ(env_->signer->signatures(), 2) << "healed with the same bytes, not a new signature";
}

TEST_P(SharedNoncesTest, AStuckNonceIsBumpedOncePerStuckAfterAcrossReplicas) {
  ASSERT_NO_FATAL_FAILURE(Start(/*automine=*/false));
  LastSigned sa, sb;
  auto fa = Deploy(*a_, *env_, 1, sa);
  ASSERT_TRUE(Eventually([&] { return sa.get().has_value(); }, absl::Seconds(10)));
  auto fb = Deploy(*b_, *env_, 2, sb);
  const uint64_t nonce = sa.get()->nonce;
  // Both replicas wait on this nonce's chain and maintain it; stuck_after is 1 s.
  ASSERT_TRUE(Eventually([&] { return StoredVersions(*store_a_, *env_, nonce).size() >= 2; }, absl::Seconds(5)));
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(StoredVersions(*store_b_, *env_, nonce).size(), 2u) << "one bump per stuck_after, not one per replica";
  ASSERT_TRUE(env_->anvil->Mine().ok());
  absl::StatusOr<DeployAppAuthResult> ra = fa.get();
  absl::StatusOr<DeployAppAuthResult> rb = fb.get();
  ASSERT_TRUE(ra.ok()) << ra.status();
  ASSERT_TRUE(rb.ok()) << rb.status();
  EXPECT_GE(ra->versions_signed, 2);
  EXPECT_EQ(env_->signer->refusals(), 0);
}

// A fee bump signed by another replica and mined before this replica's maintenance merged it: the
// waiting operation must find it in the store, not take the used nonce for a conflict and sign
// its call again at a new nonce (a second deploy on chain).
TEST_P(SharedNoncesTest, ABumpAnotherReplicaSignedAndGotMinedIsNoConflict) {
  OperationOptions waits = FastOptions();
  waits.nonces.stuck_after = absl::Minutes(10);        // A never bumps
  waits.nonces.maintain_interval = absl::Minutes(10);  // nor merges B's bump before it is mined
  ASSERT_NO_FATAL_FAILURE(Start(/*automine=*/false, waits));
  OperationOptions bumps = FastOptions();
  bumps.nonces.stuck_after = absl::Milliseconds(200);
  bumps.nonces.maintain_interval = absl::ZeroDuration();
  OnchainOperations b(*env_->rpc, *env_->signer, bumps, store_b_);
  LastSigned sa;
  auto fa = Deploy(*a_, *env_, 1, sa);
  ASSERT_TRUE(
      Eventually([&] { return sa.get().has_value() && PoolHas(*env_, sa.get()->newest().hash); }, absl::Seconds(10)));
  const TxJournal first = *sa.get();
  // B maintains the sender: it learns A's slot from the store and bumps it once stuck.
  ASSERT_TRUE(Eventually(
      [&] {
        b.nonces(env_->chain_id, env_->sender).Maintain({});
        return StoredVersions(*store_b_, *env_, first.nonce).size() >= 2;
      },
      absl::Seconds(10)))
      << "B did not bump A's transaction";
  const SignedTx bump = StoredVersions(*store_b_, *env_, first.nonce).back();
  ASSERT_NE(bump.hash, first.newest().hash);
  ASSERT_TRUE(Eventually([&] { return PoolHas(*env_, bump.hash); }, absl::Seconds(5)));
  ASSERT_TRUE(env_->anvil->Mine().ok());  // the bump replaced A's version in the pool: it is mined
  absl::StatusOr<DeployAppAuthResult> ra;
  {
    Miner miner(*env_->anvil, absl::Milliseconds(100));  // mines a re-signed transaction too, if any
    ra = fa.get();
  }
  ASSERT_TRUE(ra.ok()) << ra.status();
  EXPECT_EQ(ra->nonce, first.nonce) << "A signed its deploy again at another nonce";
  EXPECT_EQ(ra->tx_hash, bump.hash);
  EXPECT_EQ(env_->signer->signatures(), 2) << "A's version and B's bump, nothing more";
  EXPECT_EQ(env_->rpc->GetTransactionCount(env_->sender).value_or(0), first.nonce + 1);
}

}  // namespace chain::onchain::testing
