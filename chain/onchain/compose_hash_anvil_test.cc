// AddComposeHash against anvil: a new hash, an already-allowed one (the earlier transaction is
// found with eth_getLogs, nothing is paid), the owner pre-check, a missing contract, a revert
// mined on chain (decoded by replay).
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "chain/abi.h"
#include "chain/dstack_calls.h"
#include "chain/hex.h"
#include "chain/onchain/operations.h"
#include "chain/onchain/receipts.h"
#include "chain/onchain/testing/anvil_env.h"

namespace chain::onchain {
namespace {

using testing::AnvilEnv;
using testing::TestHash;

class ComposeHash : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<AnvilEnv>> e = AnvilEnv::Start();
    ASSERT_TRUE(e.ok()) << e.status();
    env_ = *std::move(e);
    absl::StatusOr<DeployAppAuthResult> d = env_->ops->DeployAppAuth(env_->DeployRequest(TestHash(1)));
    ASSERT_TRUE(d.ok()) << d.status();
    deploy_ = *d;
  }

  AddComposeHashRequest Request(const Hash32& hash) const {
    return {.chain_id = env_->chain_id,
            .app = deploy_.app_id,
            .sender = env_->sender,
            .compose_hash = hash,
            .request_id = "add"};
  }
  bool Allowed(const Hash32& h) const {
    absl::StatusOr<Bytes> data = abi::EncodeCall("allowedComposeHashes(bytes32)", {abi::Value::FromBytes32(h)});
    return env_->CallBool(deploy_.app_id, *data).value_or(false);
  }

  std::unique_ptr<AnvilEnv> env_;
  DeployAppAuthResult deploy_;
};

TEST_F(ComposeHash, AddsANewHashAndVerifiesTheEvent) {
  const Hash32 h = TestHash(2);
  EXPECT_FALSE(Allowed(h));
  const int before = env_->signer->signatures();
  std::optional<TxJournal> journal;
  absl::StatusOr<AddComposeHashResult> r = env_->ops->AddComposeHash(Request(h), {.on_signed = [&](const TxJournal& j) {
                                                                       journal = j;
                                                                       return absl::OkStatus();
                                                                     }});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(journal.has_value());
  // Resuming from the journal (after a restart) finds the same transaction, signs nothing.
  env_->Restart();
  absl::StatusOr<AddComposeHashResult> resumed =
      env_->ops->AddComposeHash(Request(h), {.resume = *TxJournal::Parse(journal->Serialize())});
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->tx_hash, r->tx_hash);
  EXPECT_EQ(resumed->block_number, r->block_number);
  EXPECT_FALSE(r->already_allowed);
  ASSERT_TRUE(r->tx_hash.has_value());
  EXPECT_TRUE(Allowed(h));
  EXPECT_EQ(env_->signer->signatures(), before + 1);
  EXPECT_GT(r->gas_used, 40'000u);
  EXPECT_LT(r->gas_used, 70'000u);
  absl::StatusOr<std::optional<jsonrpc::TransactionInfo>> tx = env_->rpc->GetTransactionByHash(*r->tx_hash);
  ASSERT_TRUE(tx.ok() && tx->has_value());
  EXPECT_EQ((*tx)->input, EncodeAddComposeHash(h));
  EXPECT_EQ((*tx)->to, deploy_.app_id);
}

TEST_F(ComposeHash, AlreadyAllowedReturnsTheEarlierTransactionAndPaysNothing) {
  const Hash32 h = TestHash(3);
  absl::StatusOr<AddComposeHashResult> first = env_->ops->AddComposeHash(Request(h));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(env_->anvil->Mine(5).ok());  // the earlier log is some blocks back
  const int signatures = env_->signer->signatures();
  absl::StatusOr<Wei> balance = env_->rpc->GetBalance(env_->sender);

  absl::StatusOr<AddComposeHashResult> again = env_->ops->AddComposeHash(Request(h));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->already_allowed);
  EXPECT_EQ(again->tx_hash, first->tx_hash);
  EXPECT_EQ(again->block_number, first->block_number);
  EXPECT_EQ(again->gas_used, first->gas_used);
  EXPECT_EQ(env_->signer->signatures(), signatures) << "nothing signed";
  EXPECT_EQ(env_->rpc->GetBalance(env_->sender).value(), *balance) << "nothing paid";

  // The hash allowed at deploy time: its ComposeHashAdded is in the factory transaction.
  absl::StatusOr<AddComposeHashResult> initial = env_->ops->AddComposeHash(Request(TestHash(1)));
  ASSERT_TRUE(initial.ok()) << initial.status();
  EXPECT_TRUE(initial->already_allowed);
  EXPECT_EQ(initial->tx_hash, deploy_.tx_hash);

  // The same through a narrow eth_getLogs window (providers cap block ranges).
  OperationOptions narrow = testing::FastOptions();
  narrow.log_search_window = 2;
  OnchainOperations ops(*env_->rpc, *env_->signer, narrow);
  absl::StatusOr<AddComposeHashResult> windowed = ops.AddComposeHash(Request(TestHash(1)));
  ASSERT_TRUE(windowed.ok()) << windowed.status();
  EXPECT_EQ(windowed->tx_hash, deploy_.tx_hash);
}

TEST_F(ComposeHash, NotTheOwnerFailsBeforeSigning) {
  absl::StatusOr<std::unique_ptr<LocalKeySigner>> stranger = LocalKeySigner::FromHex(anvil::kSecondPrivateKey);
  ASSERT_TRUE(stranger.ok());
  OnchainOperations ops(*env_->rpc, **stranger, testing::FastOptions());
  AddComposeHashRequest req = Request(TestHash(4));
  req.sender = (*stranger)->address();
  absl::StatusOr<AddComposeHashResult> r = ops.AddComposeHash(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(),
            absl::StrCat("sender 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 is not the owner of app ",
                         deploy_.app_id.Checksummed(), " (owner: 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266)"));
  EXPECT_EQ((*stranger)->signatures(), 0);
}

TEST_F(ComposeHash, RevertMinedOnChainIsDecodedByReplay) {
  // Bypass the pre-checks: a non-owner transaction with an explicit gas limit gets mined with
  // status 0. The waiter reports it and replays the call for the reason.
  absl::StatusOr<std::unique_ptr<LocalKeySigner>> stranger = LocalKeySigner::FromHex(anvil::kSecondPrivateKey);
  ASSERT_TRUE(stranger.ok());
  NonceAllocator nonces(*env_->rpc, **stranger, env_->chain_id, (*stranger)->address(), testing::FastOptions().nonces);
  TxEnvelope env{
      .gas_limit = 100'000, .max_fee_per_gas = U256(10'000'000'000), .max_priority_fee_per_gas = U256(1'000'000'000)};
  absl::StatusOr<SignedTx> tx = nonces.SignNext(TxIntent::AddComposeHash(deploy_.app_id, TestHash(5)), env, nullptr);
  ASSERT_TRUE(tx.ok()) << tx.status();
  absl::StatusOr<MinedTx> mined = nonces.SubmitAndWait(tx->nonce, testing::FastOptions().wait, {});
  EXPECT_EQ(mined.status().code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(absl::StrContains(mined.status().message(), "reverted on chain")) << mined.status();
  EXPECT_TRUE(absl::StrContains(mined.status().message(),
                                "OwnableUnauthorizedAccount(0x70997970C51812dc3A010C7d01b50e0d17dc79C8)"))
      << mined.status();
  EXPECT_FALSE(Allowed(TestHash(5)));
}

TEST_F(ComposeHash, MissingContractAndZeroHash) {
  AddComposeHashRequest req = Request(TestHash(6));
  req.app = *Address::Parse("0x000000000000000000000000000000000000beef");
  absl::StatusOr<AddComposeHashResult> r = env_->ops->AddComposeHash(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(r.status().message(), "no contract at the app address")) << r.status();
  // The KMS has code but no owner-checked DstackApp interface of ours: it is owned by #0, so the
  // owner check passes and allowedComposeHashes() does not exist there.
  req.app = env_->kms;
  r = env_->ops->AddComposeHash(req);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(env_->ops->AddComposeHash(Request(Hash32())).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chain::onchain
