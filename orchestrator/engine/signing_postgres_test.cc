// JournalingSigner with the replicas' nonce store (PostgresNonceStore on a real PostgreSQL 15,
// anvil for the chain's nonce): a step resumed on another replica adopts the transaction the first
// replica's step signed and stored, repairs a signature whose answer died with that replica (the
// signer answers REPEAT: the same bytes), and resumes nothing after a refusal. Nothing is written
// as journal artifacts in this mode.
#include <memory>
#include <string>

#include "chain/onchain/nonce_allocator.h"
#include "chain/onchain/testing/anvil_env.h"
#include "gtest/gtest.h"
#include "orchestrator/engine/signing.h"
#include "orchestrator/journal/postgres_journal.h"
#include "orchestrator/journal/postgres_nonce_store.h"
#include "platform/postgres/shared_server.h"

namespace orchestrator::engine {
namespace {

using chain::onchain::SignedTx;
using chain::onchain::TxEnvelope;
using chain::onchain::TxIntent;
using chain::onchain::TxJournal;
using chain::onchain::testing::AnvilEnv;

constexpr char kOp[] = "op_1";
constexpr char kStep[] = "register_compose_hash";

// Two replicas' views of one database, and the chain and signer service they share.
class SigningPostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const platform::postgres::Dsn dsn = platform::postgres::TestDatabase();
    absl::StatusOr<std::unique_ptr<journal::PostgresJournal>> j = journal::PostgresJournal::Open(dsn);
    ASSERT_TRUE(j.ok()) << j.status();
    journal_ = *std::move(j);
    for (auto* store : {&store_a_, &store_b_}) {
      absl::StatusOr<std::unique_ptr<journal::PostgresNonceStore>> s = journal::PostgresNonceStore::Open(dsn);
      ASSERT_TRUE(s.ok()) << s.status();
      *store = *std::move(s);
    }
    absl::StatusOr<std::unique_ptr<AnvilEnv>> env = AnvilEnv::Start();
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
    signer_a_ = std::make_unique<JournalingSigner>(*env_->signer, *journal_, store_a_.get());
    signer_b_ = std::make_unique<JournalingSigner>(*env_->signer, *journal_, store_b_.get());
  }

  // Replica A's step signs its transaction through its allocator (which records and stores it).
  absl::StatusOr<SignedTx> SignOnA() {
    chain::onchain::NonceAllocator nonces(*env_->rpc, *signer_a_, env_->chain_id, env_->sender,
                                          chain::onchain::testing::FastOptions().nonces, store_a_.get());
    TxEnvelope e{.request_id = absl::StrCat(kOp, "/", kStep),
                 .gas_limit = 60'000,
                 .max_fee_per_gas = chain::U256(2'000'000'000),
                 .max_priority_fee_per_gas = chain::U256(1'000'000'000)};
    JournalingSigner* signer = signer_a_.get();
    return nonces.SignNext(Intent(), e, [signer](const TxJournal& j) { return signer->SaveTxJournal(kOp, kStep, j); });
  }

  TxIntent Intent() const { return TxIntent::AddComposeHash(env_->sender, chain::onchain::testing::TestHash(1)); }

  std::unique_ptr<journal::PostgresJournal> journal_;
  std::unique_ptr<journal::PostgresNonceStore> store_a_, store_b_;
  std::unique_ptr<AnvilEnv> env_;
  std::unique_ptr<JournalingSigner> signer_a_, signer_b_;
};

TEST_F(SigningPostgresTest, AResumedStepAdoptsWhatAnotherReplicaSignedAndStored) {
  absl::StatusOr<SignedTx> signed_on_a = SignOnA();
  ASSERT_TRUE(signed_on_a.ok()) << signed_on_a.status();
  // Replica A is gone; the operation resumes on B.
  absl::StatusOr<std::optional<TxJournal>> j = signer_b_->Recover(kOp, kStep);
  ASSERT_TRUE(j.ok()) << j.status();
  ASSERT_TRUE(j->has_value()) << "the step's transaction is found on the other replica";
  ASSERT_EQ((*j)->versions.size(), 1u);
  EXPECT_EQ((*j)->newest().hash, signed_on_a->hash);
  EXPECT_EQ(env_->signer->signatures(), 1) << "adopted, not signed again";
  absl::StatusOr<std::map<std::string, std::string>> artifacts = journal_->ListArtifacts(kOp, "");
  ASSERT_TRUE(artifacts.ok());
  EXPECT_TRUE(artifacts->empty()) << "the nonce store holds the records, not the artifacts";
}

TEST_F(SigningPostgresTest, AnAnswerLostWithItsReplicaIsRepairedWithTheSameBytes) {
  const uint64_t nonce = *env_->rpc->GetTransactionCount(env_->sender, chain::jsonrpc::BlockId::Pending());
  const TxEnvelope e{.request_id = absl::StrCat(kOp, "/", kStep),
                     .chain_id = env_->chain_id,
                     .from = env_->sender,
                     .nonce = nonce,
                     .gas_limit = 60'000,
                     .max_fee_per_gas = chain::U256(2'000'000'000),
                     .max_priority_fee_per_gas = chain::U256(1'000'000'000)};
  absl::StatusOr<SignedTx> lost;
  {
    // Replica A records the request and the signer signs; A dies before storing the answer.
    std::unique_ptr<chain::onchain::SenderHold> hold = *store_a_->Hold(env_->chain_id, env_->sender, {});
    ASSERT_TRUE(hold->Record({e, Intent()}, /*first=*/true).ok());
    lost = chain::onchain::SignIntent(*env_->signer, e, Intent());
    ASSERT_TRUE(lost.ok()) << lost.status();
  }
  absl::StatusOr<std::optional<TxJournal>> j = signer_b_->Recover(kOp, kStep);
  ASSERT_TRUE(j.ok()) << j.status();
  ASSERT_TRUE(j->has_value());
  ASSERT_EQ((*j)->versions.size(), 1u);
  EXPECT_EQ((*j)->versions[0].raw, lost->raw) << "the very same bytes (a REPEAT)";
  EXPECT_EQ(env_->signer->refusals(), 0);
  const int signatures = env_->signer->signatures();
  ASSERT_TRUE(signer_b_->Recover(kOp, kStep).ok());
  EXPECT_EQ(env_->signer->signatures(), signatures) << "stored: recovering again signs nothing";
}

TEST_F(SigningPostgresTest, ARefusedRequestLeavesNothingToResume) {
  env_->signer->FailNext(absl::PermissionDeniedError("policy"));
  EXPECT_EQ(SignOnA().status().code(), absl::StatusCode::kPermissionDenied);
  absl::StatusOr<std::optional<TxJournal>> j = signer_b_->Recover(kOp, kStep);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_FALSE(j->has_value());
  EXPECT_EQ(env_->signer->signatures(), 0);
}

}  // namespace
}  // namespace orchestrator::engine
