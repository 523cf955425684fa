// The signer's gRPC edge on a PostgreSQL record, which checks the key's 24 h budgets at commit
// across replicas: with stop_sender_at_refusal, a budget refusal found at the commit stops the
// sender's later items of that commit (not written, ABORTED), not its earlier ones, not another
// sender's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "platform/postgres/shared_server.h"
#include "signer/equivocation/postgres_store.h"
#include "signer/testing/anvil_fixtures.h"
#include "signer/testing/service_fixture.h"

namespace signer {
namespace {

namespace v1 = onchainkms::signer::v1;

// A transaction's worst-case fee at the fixtures' envelope: 60000 gas at 2 gwei.
constexpr uint64_t kCharge = 60000ull * 2000000000ull;

class SignerServicePostgresTest : public fixtures::SignerServiceTest {
 protected:
  void SetUp() override {
    // A durable database of its own (the test server's default is off, which the store refuses).
    const std::string name = absl::AsciiStrToLower(::testing::UnitTest::GetInstance()->current_test_info()->name());
    dsn_ = *platform::postgres::Dsn::FromFile(*platform::postgres::SharedServer().CreateDatabase(name));
    ASSERT_TRUE(platform::postgres::Connect(*dsn_)
                    ->Exec(absl::StrCat("ALTER DATABASE ", name, " SET synchronous_commit = on"))
                    .ok());
    more_policy_ = absl::StrCat(R"pb(default_key_limits { fee_budget_24h_wei: ")pb", 12 * kCharge, R"pb(" })pb");
    SignerServiceTest::SetUp();
  }
  std::unique_ptr<equivocation::Store> OpenStore() override {
    absl::StatusOr<std::unique_ptr<equivocation::PostgresStore>> store = equivocation::PostgresStore::Open(*dsn_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // Another replica signed 10 charges' worth for kFrom: this signer's own ledger does not know,
  // the commit's global check does (2 charges left).
  void AnotherReplicaSpends() {
    std::unique_ptr<equivocation::PostgresStore> replica = *equivocation::PostgresStore::Open(*dsn_);
    ASSERT_TRUE(replica->RecordSync(OtherRecord(fixtures::kFrom, 1000, 10 * kCharge)).ok());
  }

  // kFrom at nonces 1 (1 charge), 2 (2 charges: over the budget left) and 3 (1 charge: within it
  // without the second), then kFrom1 at nonce 1.
  static std::vector<v1::SignBatchItem> OkOverBudgetOk() {
    v1::SignAddComposeHashRequest costly = fixtures::AddComposeHashRequest(2);
    costly.set_gas_limit(2 * 60000);
    v1::SignAddComposeHashRequest other_key = fixtures::AddComposeHashRequest(1);
    other_key.set_from_address(fixtures::kFrom1);
    return {ComposeItem(fixtures::AddComposeHashRequest(1)), ComposeItem(costly),
            ComposeItem(fixtures::AddComposeHashRequest(3)), ComposeItem(other_key)};
  }

  std::optional<platform::postgres::Dsn> dsn_;
};

TEST_F(SignerServicePostgresTest, ABudgetRefusalAtCommitStopsTheSendersLaterItems) {
  AnotherReplicaSpends();
  const uint64_t commits_before = store_->commits();
  v1::SignBatchResponse out;
  const grpc::Status st = Batch(OkOverBudgetOk(), &out, /*stop_sender_at_refusal=*/true);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(out.results_size(), 4);
  EXPECT_EQ(store_->commits() - commits_before, 1u) << "the four records share one commit";
  EXPECT_EQ(out.results(0).code(), 0) << out.results(0).message();
  EXPECT_EQ(out.results(1).code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << out.results(1).message();
  EXPECT_THAT(out.results(1).message(), ::testing::HasSubstr("across all signers"));
  EXPECT_EQ(out.results(2).code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(out.results(2).message(), "not started: an earlier item of this sender was refused");
  EXPECT_FALSE(out.results(2).has_signed_transaction());
  EXPECT_EQ(out.results(3).code(), 0) << out.results(3).message();
  EXPECT_EQ(RecordsAt(fixtures::kFrom, 1), 1u);
  EXPECT_EQ(RecordsAt(fixtures::kFrom, 2), 0u);
  EXPECT_EQ(RecordsAt(fixtures::kFrom, 3), 0u) << "not written after the refusal";
  EXPECT_EQ(RecordsAt(fixtures::kFrom1, 1), 1u);
  std::ifstream audit(dir_ + "/audit.jsonl");
  const std::string audited((std::istreambuf_iterator<char>(audit)), {});
  EXPECT_THAT(audited, ::testing::HasSubstr("\"rule\":\"stop_sender_at_refusal\"")) << "started: audited";

  // Nonce 3 was left free (and its charge refunded): a later call signs there first.
  grpc::ClientContext ctx;
  v1::SignedTransaction later;
  const grpc::Status later_st = stub_->SignAddComposeHash(&ctx, fixtures::AddComposeHashRequest(3), &later);
  ASSERT_TRUE(later_st.ok()) << later_st.error_message();
  EXPECT_EQ(later.nonce_use(), v1::NONCE_USE_FIRST);
  expected_audit_records_ = 4 + 1;  // every item reached the engine (the third one its commit)
}

TEST_F(SignerServicePostgresTest, WithoutTheFlagABudgetRefusalAtCommitStopsNothing) {
  AnotherReplicaSpends();
  v1::SignBatchResponse out;
  const grpc::Status st = Batch(OkOverBudgetOk(), &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(out.results_size(), 4);
  EXPECT_EQ(out.results(0).code(), 0) << out.results(0).message();
  EXPECT_EQ(out.results(1).code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << out.results(1).message();
  EXPECT_EQ(out.results(2).code(), 0) << out.results(2).message();
  EXPECT_EQ(out.results(3).code(), 0) << out.results(3).message();
  EXPECT_EQ(RecordsAt(fixtures::kFrom, 3), 1u);
  expected_audit_records_ = 4;
}

// only_if_signed on the shared record: a nonce no replica signed is NOT_FOUND and stays free; a
// transaction another replica signed is repeated with its bytes, never signed again here.
TEST_F(SignerServicePostgresTest, OnlyIfSignedRepeatsOnlyWhatTheSharedRecordHolds) {
  ExpectNotSignedBeforeLeavesTheNonceFree(4);
  v1::SignedTransaction first;
  {
    std::unique_ptr<equivocation::PostgresStore> replica = *equivocation::PostgresStore::Open(*dsn_);
    ASSERT_TRUE(replica->RecordSync(OtherRecord(fixtures::kFrom, 6)).ok());
  }
  const grpc::Status held = Compose(OnlyIfSigned(fixtures::AddComposeHashRequest(6)), &first);
  EXPECT_EQ(held.error_code(), grpc::StatusCode::NOT_FOUND) << held.error_message();
  ASSERT_TRUE(Compose(fixtures::AddComposeHashRequest(7), &first).ok());
  v1::SignedTransaction again;
  const grpc::Status repeat = Compose(OnlyIfSigned(fixtures::AddComposeHashRequest(7)), &again);
  ASSERT_TRUE(repeat.ok()) << repeat.error_message();
  EXPECT_EQ(again.nonce_use(), v1::NONCE_USE_REPEAT);
  EXPECT_EQ(again.raw_transaction(), first.raw_transaction());
  EXPECT_EQ(RecordsAt(fixtures::kFrom, 6), 1u) << "only the other replica's";
}

}  // namespace
}  // namespace signer
