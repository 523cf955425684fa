// PostgresNonceStore against a real PostgreSQL 15 and anvil: the shared-nonces contract
// (chain/onchain/testing/shared_nonces_contract.h) with each replica on its own connection pool,
// and what only the database has: the hold is a row lock that times out UNAVAILABLE and goes with
// a killed connection, and a nonce cannot be reserved twice.
#include "orchestrator/journal/postgres_nonce_store.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chain/onchain/operations.h"
#include "chain/onchain/testing/anvil_env.h"
#include "chain/onchain/testing/shared_nonces_contract.h"
#include "gtest/gtest.h"
#include "orchestrator/journal/postgres_journal.h"
#include "platform/postgres/connection.h"
#include "platform/postgres/shared_server.h"

namespace orchestrator::journal {
namespace {

using chain::onchain::SenderHold;
using chain::onchain::SlotView;
using chain::onchain::TxEnvelope;
using chain::onchain::TxIntent;
using chain::onchain::TxRequest;
using chain::onchain::testing::AnvilEnv;
using chain::onchain::testing::SharedNonceBackend;
using chain::onchain::testing::SharedNoncesTest;
using platform::postgres::Dsn;

Dsn NewDatabase() {
  static int databases = 0;
  absl::StatusOr<std::string> dsn_file =
      platform::postgres::SharedServer().CreateDatabase(absl::StrCat("nonces_", ++databases));
  if (!dsn_file.ok()) {
    ADD_FAILURE() << dsn_file.status();
    std::abort();
  }
  return *Dsn::FromFile(*dsn_file);
}

std::unique_ptr<PostgresNonceStore> MustOpen(const Dsn& dsn, const PostgresNonceStoreOptions& options = {}) {
  absl::StatusOr<std::unique_ptr<PostgresNonceStore>> s = PostgresNonceStore::Open(dsn, options);
  if (!s.ok()) {
    ADD_FAILURE() << s.status();
    std::abort();
  }
  return *std::move(s);
}

// Every replica has its own store (own pool) on one database, as separate processes would.
class PostgresBackend final : public SharedNonceBackend {
 public:
  absl::StatusOr<chain::onchain::NonceStore*> OpenReplica() override {
    stores_.push_back(MustOpen(dsn_));
    return stores_.back().get();
  }

 private:
  const Dsn dsn_ = NewDatabase();
  std::vector<std::unique_ptr<PostgresNonceStore>> stores_;
};

std::unique_ptr<SharedNonceBackend> NewPostgresBackend() { return std::make_unique<PostgresBackend>(); }

INSTANTIATE_TEST_SUITE_P(Postgres, SharedNoncesTest, ::testing::Values(&NewPostgresBackend));

const chain::Address kSender = *chain::Address::Parse("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

TxRequest Request(const std::string& request_id, uint64_t nonce) {
  TxEnvelope e{.request_id = request_id,
               .chain_id = 31337,
               .from = kSender,
               .nonce = nonce,
               .gas_limit = 100'000,
               .max_fee_per_gas = chain::U256(2'000'000'000),
               .max_priority_fee_per_gas = chain::U256(1'000'000'000)};
  return {e, TxIntent::AddComposeHash(kSender, chain::Hash32())};
}

TEST(PostgresNonceStoreTest, ASecondHoldOfTheSenderWaitsThenFailsUnavailable) {
  const Dsn dsn = NewDatabase();
  std::unique_ptr<PostgresNonceStore> a = MustOpen(dsn);
  std::unique_ptr<PostgresNonceStore> b = MustOpen(dsn, {.lock_timeout = absl::Milliseconds(200)});
  {
    absl::StatusOr<std::unique_ptr<SenderHold>> held = a->Hold(31337, kSender, {});
    ASSERT_TRUE(held.ok()) << held.status();
    const absl::Time t0 = absl::Now();
    absl::StatusOr<std::unique_ptr<SenderHold>> second = b->Hold(31337, kSender, {});
    EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
    // Without b's lock_timeout (200 ms) this waits for a's hold, i.e. forever: a generous bound.
    EXPECT_LT(absl::Now() - t0, absl::Seconds(20)) << "b's lock_timeout is 200 ms";
    EXPECT_TRUE(b->Hold(31338, kSender, {}).ok()) << "another chain is another sender";
  }
  EXPECT_TRUE(b->Hold(31337, kSender, {}).ok()) << "released with the first hold";
}

TEST(PostgresNonceStoreTest, ANonceIsReservedOnceUnlessItWasRefused) {
  const Dsn dsn = NewDatabase();
  std::unique_ptr<PostgresNonceStore> a = MustOpen(dsn);
  std::unique_ptr<PostgresNonceStore> b = MustOpen(dsn);
  {
    std::unique_ptr<SenderHold> hold = *a->Hold(31337, kSender, {});
    ASSERT_TRUE(hold->Record(Request("op_a/deploy", 7), /*first=*/true).ok());
    EXPECT_EQ(*hold->Floor(), std::optional<uint64_t>(8));
  }
  {
    std::unique_ptr<SenderHold> hold = *b->Hold(31337, kSender, {});
    const absl::Status again = hold->Record(Request("op_b/deploy", 7), /*first=*/true);
    // UNAVAILABLE: the caller chooses again under a new hold (a dead holder's request can land
    // after its hold ended, the late commit of its connection).
    EXPECT_EQ(again.code(), absl::StatusCode::kUnavailable) << again;
    std::vector<SlotView> open = *hold->Open();
    ASSERT_EQ(open.size(), 1u);
    EXPECT_EQ(open[0].request_id, "op_a/deploy");
    ASSERT_EQ(open[0].pending.size(), 1u) << "an orphan until it is signed or refused";
    // Refused for good: nothing was signed, the nonce is free again and the floor drops.
    ASSERT_TRUE(hold->Refused(open[0].pending[0].envelope).ok());
    EXPECT_TRUE(hold->Open()->empty());
    EXPECT_EQ(*hold->Floor(), std::nullopt);
    ASSERT_TRUE(hold->Record(Request("op_b/deploy", 7), /*first=*/true).ok());
  }
  absl::StatusOr<std::optional<StepSlot>> b_slot = a->NewestOfStep("op_b", "deploy");
  ASSERT_TRUE(b_slot.ok() && b_slot->has_value()) << b_slot.status();
  EXPECT_EQ((*b_slot)->slot.nonce, 7u);
  EXPECT_EQ((*a->NewestOfStep("op_a", "deploy")), std::nullopt) << "op_a lost the VOID slot";
  // Below the store, the primary key itself refuses a second slot for the nonce.
  std::unique_ptr<platform::postgres::Connection> sql = platform::postgres::Connect(dsn);
  const absl::Status dup = sql->Exec(
      "INSERT INTO nonce_slots (chain_id, sender, nonce, request_id, operation_id, step, state) VALUES "
      "(31337, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', 7, 'x/y', 'x', 'y', 1)");
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists) << dup;
}

// Several replicas (design § 4.4): a nonce is reserved for an operation only by the replica that
// holds it; after its lease ran out nothing is reserved (UNAVAILABLE), after a takeover never
// (lease lost), and the new owner reserves it.
TEST(PostgresNonceStoreTest, OnlyTheReplicaHoldingTheOperationReservesItsNonces) {
  const Dsn dsn = NewDatabase();
  std::unique_ptr<PostgresJournal> a = *PostgresJournal::Open(dsn);
  std::unique_ptr<PostgresJournal> b = *PostgresJournal::Open(dsn);
  ASSERT_TRUE(b->Register(ReplicaLease{"b", "boot-b", absl::Seconds(30)}).ok());
  ASSERT_TRUE(a->Register(ReplicaLease{"a", "boot-a", absl::Milliseconds(1500)}).ok());
  OperationRecord op;
  op.id = "op_a";
  op.caller = "uid:1";
  op.request_id = "r1";
  op.kind = 1;
  op.state = 2;
  op.request_digest = "d";
  op.owner = "a";
  ASSERT_TRUE(a->Create(op).ok());
  std::unique_ptr<PostgresNonceStore> on_a = MustOpen(dsn);
  on_a->SetFence([&](absl::string_view id) { return a->FenceFor(id); });
  std::unique_ptr<PostgresNonceStore> on_b = MustOpen(dsn);
  on_b->SetFence([&](absl::string_view id) { return b->FenceFor(id); });
  auto reserve = [](PostgresNonceStore& store, uint64_t nonce) {
    std::unique_ptr<SenderHold> hold = *store.Hold(31337, kSender, {});
    return hold->Record(Request("op_a/deploy", nonce), /*first=*/true);
  };
  ASSERT_TRUE(reserve(*on_a, 0).ok());
  EXPECT_TRUE(IsLeaseLost(reserve(*on_b, 1))) << "b does not hold op_a";

  absl::SleepFor(absl::Milliseconds(1700));  // a's lease runs out
  EXPECT_EQ(reserve(*on_a, 1).code(), absl::StatusCode::kUnavailable) << "not taken over yet";
  ASSERT_EQ(b->Claim(10)->size(), 1u);
  const absl::Status stale = reserve(*on_a, 1);
  EXPECT_TRUE(IsLeaseLost(stale)) << stale;
  std::unique_ptr<platform::postgres::Connection> sql = platform::postgres::Connect(dsn);
  EXPECT_EQ(*(*sql->Execute("SELECT count(*) FROM nonce_slots")).Int(0, 0), 1) << "nothing reserved by a";
  EXPECT_TRUE(reserve(*on_b, 1).ok()) << "the new owner";
}

TEST(PostgresNonceStoreTest, TheOrphanOfAKilledHolderIsRepairedBeforeTheNextNonce) {
  const Dsn dsn = NewDatabase();
  std::unique_ptr<PostgresNonceStore> dead = MustOpen(dsn);
  absl::StatusOr<std::unique_ptr<AnvilEnv>> e = AnvilEnv::Start();
  ASSERT_TRUE(e.ok()) << e.status();
  AnvilEnv& env = **e;
  const uint64_t start = *env.rpc->GetTransactionCount(env.sender);
  chain::DeployAndRegisterAppParams params = env.DeployRequest(chain::onchain::testing::TestHash(9)).params;
  params.initial_owner = env.sender;
  const TxIntent intent = TxIntent::Deploy(env.kms, params);
  const TxEnvelope envelope{.request_id = "op_dead/deploy",
                            .chain_id = env.chain_id,
                            .from = env.sender,
                            .nonce = start,
                            .gas_limit = 3'000'000,
                            .max_fee_per_gas = chain::U256(20'000'000'000),
                            .max_priority_fee_per_gas = chain::U256(1'000'000'000)};
  // The dying replica reserves the nonce and the signer signs; then its connections are killed
  // (as when its host goes away) before it stores the signature.
  std::unique_ptr<SenderHold> hold = *dead->Hold(env.chain_id, env.sender, {});
  ASSERT_TRUE(hold->Record({envelope, intent}, /*first=*/true).ok());
  absl::StatusOr<chain::onchain::SignedTx> lost = chain::onchain::SignIntent(*env.signer, envelope, intent);
  ASSERT_TRUE(lost.ok()) << lost.status();
  std::unique_ptr<platform::postgres::Connection> sql = platform::postgres::Connect(dsn);
  ASSERT_TRUE(sql->Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND application_name = 'onchain-kms-orchestrator-nonces' AND pid <> pg_backend_pid()")
                  .ok());
  // Opened only now: the kill above matches connections by application name, and would hit this
  // replica's pooled connections too when they are already open (a failure that depended on
  // whether its pool had connected yet).
  std::unique_ptr<PostgresNonceStore> live = MustOpen(dsn);
  // Another replica's next allocation: the lock went with the connection, the orphan is signed
  // again (REPEAT: the same bytes) and stored, the new transaction takes the next nonce, and the
  // wait sends the orphan so that both are mined.
  chain::onchain::OnchainOperations ops(*env.rpc, *env.signer, chain::onchain::testing::FastOptions(), live.get());
  absl::StatusOr<chain::onchain::DeployAppAuthResult> r =
      ops.DeployAppAuth(env.DeployRequest(chain::onchain::testing::TestHash(1)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->nonce, start + 1);
  EXPECT_EQ(ops.nonces(env.chain_id, env.sender).stats().repaired, 1u);
  absl::StatusOr<std::optional<StepSlot>> orphan = live->NewestOfStep("op_dead", "deploy");
  ASSERT_TRUE(orphan.ok() && orphan->has_value()) << orphan.status();
  ASSERT_EQ((*orphan)->slot.versions.size(), 1u);
  EXPECT_EQ((*orphan)->slot.versions[0].hash, lost->hash) << "the bytes the signer gave the dead replica";
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (env.rpc->GetTransactionCount(env.sender).value_or(0) < start + 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  absl::StatusOr<std::optional<chain::jsonrpc::Receipt>> mined = env.rpc->GetTransactionReceipt(lost->hash);
  ASSERT_TRUE(mined.ok() && mined->has_value()) << "the orphan was sent and mined";
  EXPECT_EQ(env.signer->signatures(), 3);
  EXPECT_EQ(env.signer->refusals(), 0);
  hold.reset();  // the dead replica's hold ends on a dead connection: nothing to release
}

// A reorg (a count below a MINED slot, once the slot has been mined for the reorg grace) makes the
// slot SIGNED again; within the grace the count is taken for a stale read (the shared contract).
TEST(PostgresNonceStoreTest, AReorgReopensAMinedSlotAfterTheGrace) {
  const Dsn dsn = NewDatabase();
  std::unique_ptr<PostgresNonceStore> store = MustOpen(dsn, {.reorg_grace = absl::Milliseconds(300)});
  absl::StatusOr<std::unique_ptr<AnvilEnv>> e = AnvilEnv::Start();
  ASSERT_TRUE(e.ok()) << e.status();
  AnvilEnv& env = **e;
  const uint64_t start = *env.rpc->GetTransactionCount(env.sender);
  chain::onchain::OnchainOperations ops(*env.rpc, *env.signer, chain::onchain::testing::FastOptions(), store.get());
  absl::StatusOr<chain::onchain::DeployAppAuthResult> r =
      ops.DeployAppAuth(env.DeployRequest(chain::onchain::testing::TestHash(3)));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(store->Open(env.chain_id, env.sender)->empty()) << "mined";
  ASSERT_TRUE(store->Chain(env.chain_id, env.sender, start).ok());
  EXPECT_TRUE(store->Open(env.chain_id, env.sender)->empty()) << "within the grace";
  absl::SleepFor(absl::Milliseconds(400));
  ASSERT_TRUE(store->Chain(env.chain_id, env.sender, start).ok());
  absl::StatusOr<std::vector<SlotView>> open = store->Open(env.chain_id, env.sender);
  ASSERT_TRUE(open.ok()) << open.status();
  ASSERT_EQ(open->size(), 1u) << "a reorg took it back";
  EXPECT_EQ((*open)[0].nonce, start);
  EXPECT_EQ((*open)[0].state, SlotView::State::kSigned);
}

}  // namespace
}  // namespace orchestrator::journal
