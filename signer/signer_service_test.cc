// The signer's gRPC edge with the real engine, record and audit log on a Unix socket: requests
// that wait for another request's nonce must not hold gRPC's callback threads; SignBatch decides
// every item as a separate call would, and replies only with signatures already recorded.
#include "signer/signer_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "chain/hex.h"
#include "platform/testing/wait_for.h"
#include "signer/testing/anvil_fixtures.h"
#include "signer/testing/service_fixture.h"

namespace signer {
namespace {

namespace v1 = onchainkms::signer::v1;
using fixtures::SignerServiceTest;

// One async SignAddComposeHash call and its outcome.
struct Pending {
  grpc::ClientContext ctx;
  v1::SignAddComposeHashRequest request;
  v1::SignedTransaction response;
  grpc::Status status;
  absl::Notification done;
};

TEST_F(SignerServiceTest, RequestsWaitingForANonceDoNotHoldGrpcThreads) {
  constexpr int kWaiters = 48;  // far more than gRPC's callback threads on a small machine
  const equivocation::SlotKey busy{31337, *chain::Address::Parse(fixtures::kFrom), 7};
  auto slot = std::make_unique<std::shared_ptr<equivocation::Store::Slot>>(store_->Acquire(busy));
  std::vector<std::unique_ptr<Pending>> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    auto p = std::make_unique<Pending>();
    p->request = fixtures::AddComposeHashRequest(7);
    p->ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    Pending* raw = p.get();
    stub_->async()->SignAddComposeHash(&p->ctx, &p->request, &p->response, [raw](grpc::Status s) {
      raw->status = std::move(s);
      raw->done.Notify();
    });
    waiters.push_back(std::move(p));
  }
  absl::SleepFor(absl::Milliseconds(500));  // let them all reach the engine and wait for the slot

  // Unrelated requests (another nonce, and a read) are served while the nonce-7 requests wait.
  const absl::Time start = absl::Now();
  grpc::ClientContext other_ctx;
  other_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::SignedTransaction other;
  const grpc::Status other_status = stub_->SignAddComposeHash(&other_ctx, fixtures::AddComposeHashRequest(8), &other);
  EXPECT_TRUE(other_status.ok()) << other_status.error_code() << " " << other_status.error_message() << " after "
                                 << absl::Now() - start;
  EXPECT_EQ(other.nonce_use(), v1::NONCE_USE_FIRST);
  grpc::ClientContext list_ctx;
  list_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::ListKeysResponse keys;
  EXPECT_TRUE(stub_->ListKeys(&list_ctx, {}, &keys).ok());
  for (const auto& p : waiters) EXPECT_FALSE(p->done.HasBeenNotified()) << "still waiting for the slot";

  slot.reset();  // release nonce 7: the waiters go one after the other
  int first = 0, repeats = 0;
  std::string tx_hash;
  for (const auto& p : waiters) {
    ASSERT_TRUE(p->done.WaitForNotificationWithTimeout(absl::Seconds(60)));
    ASSERT_TRUE(p->status.ok()) << p->status.error_message();
    if (tx_hash.empty()) tx_hash = p->response.transaction_hash();
    EXPECT_EQ(p->response.transaction_hash(), tx_hash) << "one transaction for the nonce";
    (p->response.nonce_use() == v1::NONCE_USE_FIRST ? first : repeats)++;
  }
  EXPECT_EQ(first, 1);
  EXPECT_EQ(repeats, kWaiters - 1);
  absl::StatusOr<std::vector<equivocation::Record>> rows = store_->RecordsFor(busy);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->size(), 1u);
  expected_audit_records_ = kWaiters + 2;
}

// SignAppCall through the edge: the engine's statuses reach the client as gRPC codes with the
// field or rule named, and every call is audited.
TEST_F(SignerServiceTest, SignAppCallOverGrpc) {
  auto call = [&](const v1::SignAppCallRequest& r, v1::SignedTransaction* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    ++expected_audit_records_;
    return stub_->SignAppCall(&ctx, r, out);
  };
  v1::SignAppCallRequest add = fixtures::AppCallRequest(0);
  add.set_add_device_id(std::string(64, 'd'));
  v1::SignedTransaction out;
  grpc::Status s = call(add, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.data(), "0x2a819728" + std::string(64, 'd'));
  EXPECT_EQ(out.to(), fixtures::kApp);

  v1::SignAppCallRequest transfer = fixtures::AppCallRequest(1);
  transfer.set_transfer_ownership_to("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
  s = call(transfer, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(s.error_message().find("transferOwnership(address)"), std::string::npos) << s.error_message();

  v1::SignAppCallRequest empty = fixtures::AppCallRequest(1);
  s = call(empty, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("call: required", 0), 0u) << s.error_message();
}

// SignAppCall as a batch item: decided as the RPC would decide it (a device call allowed, an
// ownership transfer refused without a rule naming the new owner), each audited.
TEST_F(SignerServiceTest, SignBatchCarriesAppCalls) {
  v1::SignBatchItem add;
  *add.mutable_app_call() = fixtures::AppCallRequest(0);
  add.mutable_app_call()->set_add_device_id(std::string(64, 'd'));
  v1::SignBatchItem transfer;
  *transfer.mutable_app_call() = fixtures::AppCallRequest(1);
  transfer.mutable_app_call()->set_transfer_ownership_to("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
  v1::SignBatchResponse out;
  const grpc::Status st = Batch({add, transfer}, &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(out.results_size(), 2);
  EXPECT_EQ(out.results(0).code(), 0) << out.results(0).message();
  EXPECT_EQ(out.results(0).signed_transaction().data(), "0x2a819728" + std::string(64, 'd'));
  EXPECT_EQ(out.results(1).code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(out.results(1).message(), ::testing::HasSubstr("transferOwnership(address)"));
  EXPECT_FALSE(out.results(1).has_signed_transaction());
  expected_audit_records_ = 2;
}

// The items of one batch (fresh nonces, nothing else in flight) are made durable by one commit
// (one fsync), written once the call has started every item — not one write per item.
TEST_F(SignerServiceTest, SignBatchItemsShareOneCommit) {
  std::vector<v1::SignBatchItem> items;
  for (uint64_t nonce = 10; nonce < 26; ++nonce) items.push_back(ComposeItem(fixtures::AddComposeHashRequest(nonce)));
  const uint64_t commits_before = store_->commits();
  const uint64_t records_before = store_->records_written();
  v1::SignBatchResponse out;
  const grpc::Status st = Batch(items, &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(out.results_size(), 16);
  for (const v1::SignBatchResult& r : out.results()) EXPECT_EQ(r.code(), 0) << r.message();
  EXPECT_EQ(store_->records_written() - records_before, 16u);
  EXPECT_EQ(store_->commits() - commits_before, 1u);
  expected_audit_records_ = 16;
}

// One batch with an allowed item, a policy refusal, an invalid field, an equivocation and a
// repeat of the first item: each gets its own result, as separate calls would.
TEST_F(SignerServiceTest, SignBatchDecidesEachItemOnItsOwn) {
  v1::SignedTransaction earlier;  // nonce 5 signed before, for another compose hash
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->SignAddComposeHash(&ctx, fixtures::AddComposeHashRequest(5), &earlier).ok());
  }
  v1::SignAddComposeHashRequest other_app = fixtures::AddComposeHashRequest(2);
  other_app.set_app_contract_address("0x1111111111111111111111111111111111111111");
  v1::SignAddComposeHashRequest bad_fee = fixtures::AddComposeHashRequest(3);
  bad_fee.set_max_fee_per_gas_wei("1.5");
  v1::SignAddComposeHashRequest conflicting = fixtures::AddComposeHashRequest(5);
  conflicting.set_compose_hash(std::string(64, 'b'));
  v1::SignAddComposeHashRequest first = fixtures::AddComposeHashRequest(1);
  first.set_request_id("batch-item-0");

  v1::SignBatchResponse out;
  const grpc::Status st = Batch(
      {ComposeItem(first), ComposeItem(other_app), ComposeItem(bad_fee), ComposeItem(conflicting), ComposeItem(first)},
      &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(out.results_size(), 5);
  EXPECT_EQ(out.results(0).code(), 0) << out.results(0).message();
  EXPECT_EQ(out.results(0).signed_transaction().nonce(), 1u);
  EXPECT_EQ(out.results(0).signed_transaction().nonce_use(), v1::NONCE_USE_FIRST);
  EXPECT_EQ(out.results(1).code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(out.results(1).message(), ::testing::HasSubstr("app_contract_addresses"));
  EXPECT_FALSE(out.results(1).has_signed_transaction());
  EXPECT_EQ(out.results(2).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(out.results(2).message(), ::testing::HasSubstr("max_fee_per_gas_wei"));
  EXPECT_EQ(out.results(3).code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(out.results(3).message(), ::testing::HasSubstr(earlier.transaction_hash()));
  EXPECT_FALSE(out.results(3).has_signed_transaction());
  // The same payload again, later in the batch: decided after item 0's record, so a repeat.
  EXPECT_EQ(out.results(4).code(), 0) << out.results(4).message();
  EXPECT_EQ(out.results(4).signed_transaction().nonce_use(), v1::NONCE_USE_REPEAT);
  EXPECT_EQ(out.results(4).signed_transaction().raw_transaction(),
            out.results(0).signed_transaction().raw_transaction());

  // The record holds exactly the released transactions: one at nonce 1, the earlier one at 5.
  const chain::Address from = *chain::Address::Parse(fixtures::kFrom);
  absl::StatusOr<std::vector<equivocation::Record>> one = store_->RecordsFor({31337, from, 1});
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(chain::ToHex((*one)[0].raw), out.results(0).signed_transaction().raw_transaction());
  absl::StatusOr<std::vector<equivocation::Record>> five = store_->RecordsFor({31337, from, 5});
  ASSERT_TRUE(five.ok()) << five.status();
  ASSERT_EQ(five->size(), 1u);
  EXPECT_EQ((*five)[0].tx_hash.Hex(), earlier.transaction_hash());
  for (uint64_t nonce : {2, 3}) {
    absl::StatusOr<std::vector<equivocation::Record>> none = store_->RecordsFor({31337, from, nonce});
    ASSERT_TRUE(none.ok()) << none.status();
    EXPECT_TRUE(none->empty()) << "nonce " << nonce << " was refused: nothing recorded";
  }
  expected_audit_records_ = 1 + 5;  // one per item, as separate calls
}

// Every signature in a batch reply is already in the record when the reply arrives: read at
// that instant through the record's own reader connection, which sees committed transactions
// only. Several batches at once so that their items share and straddle group commits.
TEST_F(SignerServiceTest, SignBatchRepliesOnlyWithCommittedRecords) {
  constexpr int kCalls = 8, kItems = 32;
  struct Call {
    grpc::ClientContext ctx;
    v1::SignBatchRequest request;
    v1::SignBatchResponse response;
    grpc::Status status;
    int missing = -1;  // items of the reply not in the record when it arrived
    absl::Notification done;
  };
  const chain::Address from = *chain::Address::Parse(fixtures::kFrom);
  std::vector<std::unique_ptr<Call>> calls;
  for (int c = 0; c < kCalls; ++c) {
    auto call = std::make_unique<Call>();
    for (int i = 0; i < kItems; ++i) {
      *call->request.add_items() = ComposeItem(fixtures::AddComposeHashRequest(100 + c * kItems + i));
    }
    calls.push_back(std::move(call));
  }
  for (auto& call : calls) {
    Call* raw = call.get();
    stub_->async()->SignBatch(&raw->ctx, &raw->request, &raw->response, [this, raw, from](grpc::Status s) {
      int missing = 0;
      for (const v1::SignBatchResult& r : raw->response.results()) {
        absl::StatusOr<std::vector<equivocation::Record>> rows =
            store_->RecordsFor({31337, from, r.signed_transaction().nonce()});
        if (r.code() != 0 || !rows.ok() || rows->size() != 1 ||
            (*rows)[0].tx_hash.Hex() != r.signed_transaction().transaction_hash()) {
          ++missing;
        }
      }
      raw->missing = missing;
      raw->status = std::move(s);
      raw->done.Notify();
    });
  }
  for (auto& call : calls) {
    ASSERT_TRUE(call->done.WaitForNotificationWithTimeout(absl::Seconds(60)));
    ASSERT_TRUE(call->status.ok()) << call->status.error_message();
    EXPECT_EQ(call->response.results_size(), kItems);
    EXPECT_EQ(call->missing, 0) << "signatures released before their record was committed";
  }
  EXPECT_GT(store_->records_written(), 0u);
  EXPECT_LT(store_->commits(), static_cast<uint64_t>(kCalls * kItems)) << "items share group commits";
  expected_audit_records_ = kCalls * kItems;
}

// A malformed batch is refused whole (nothing signed), naming the field; audited once.
TEST_F(SignerServiceTest, SignBatchRefusesAMalformedCallWhole) {
  v1::SignBatchResponse out;
  grpc::Status st = Batch({}, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("items"));
  std::vector<v1::SignBatchItem> too_many(257, ComposeItem(fixtures::AddComposeHashRequest(1)));
  st = Batch(too_many, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("at most 256"));
  st = Batch({ComposeItem(fixtures::AddComposeHashRequest(1)), v1::SignBatchItem()}, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("items[1]"));
  absl::StatusOr<std::vector<equivocation::Record>> rows =
      store_->RecordsFor({31337, *chain::Address::Parse(fixtures::kFrom), 1});
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_TRUE(rows->empty()) << "the valid item of a refused call is not signed";
  expected_audit_records_ = 3;
}

// only_if_signed (a client repairing a lost answer) gets exactly what was signed for the same
// request: the recorded bytes again.
TEST_F(SignerServiceTest, OnlyIfSignedRepeatsTheTransactionSignedForTheRequest) {
  v1::SignedTransaction first, again;
  ASSERT_TRUE(Compose(fixtures::AddComposeHashRequest(3), &first).ok());
  EXPECT_EQ(first.nonce_use(), v1::NONCE_USE_FIRST);
  const grpc::Status st = Compose(OnlyIfSigned(fixtures::AddComposeHashRequest(3)), &again);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(again.nonce_use(), v1::NONCE_USE_REPEAT);
  EXPECT_EQ(again.raw_transaction(), first.raw_transaction());
  EXPECT_EQ(again.transaction_hash(), first.transaction_hash());
  EXPECT_EQ(RecordsAt(fixtures::kFrom, 3), 1u);
}

TEST_F(SignerServiceTest, OnlyIfSignedOnAFreeNonceIsNotFoundAndRecordsNothing) {
  ExpectNotSignedBeforeLeavesTheNonceFree(4);
}

// Another transaction at the nonce, or this call at fees that would make it a fee bump: neither
// was signed for this request, so NOT_FOUND (not FAILED_PRECONDITION), nothing recorded or charged.
TEST_F(SignerServiceTest, OnlyIfSignedIsNotFoundWhereAnotherTransactionOrABumpWouldBe) {
  v1::SignedTransaction first, out;
  ASSERT_TRUE(Compose(fixtures::AddComposeHashRequest(2), &first).ok());
  const chain::U256 charged = usage_.Committed24h(*chain::Address::Parse(fixtures::kFrom));
  v1::SignAddComposeHashRequest other = fixtures::AddComposeHashRequest(2);
  other.set_compose_hash(std::string(64, 'b'));
  grpc::Status st = Compose(OnlyIfSigned(other), &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("another transaction holds the nonce"));
  v1::SignAddComposeHashRequest bump = fixtures::AddComposeHashRequest(2);
  bump.set_max_fee_per_gas_wei("3000000000");
  bump.set_max_priority_fee_per_gas_wei("2000000");
  st = Compose(OnlyIfSigned(bump), &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("at nonce 2"));
  EXPECT_TRUE(out.raw_transaction().empty());
  EXPECT_EQ(RecordsAt(fixtures::kFrom, 2), 1u) << "nothing recorded";
  EXPECT_EQ(usage_.Committed24h(*chain::Address::Parse(fixtures::kFrom)), charged) << "nothing charged";
  // Without the flag the same call is a fee bump: the refusal above was only_if_signed's.
  st = Compose(bump, &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out.nonce_use(), v1::NONCE_USE_FEE_BUMP);
}

// In a batch the item's own only_if_signed decides: after the item that signs nonce 1 (same
// slot, decided in order) it is a repeat; at a free nonce or for another transaction, NOT_FOUND.
TEST_F(SignerServiceTest, OnlyIfSignedWorksInSignBatchItems) {
  v1::SignAddComposeHashRequest other = fixtures::AddComposeHashRequest(1);
  other.set_compose_hash(std::string(64, 'b'));
  v1::SignBatchResponse out;
  const grpc::Status st = Batch(
      {ComposeItem(fixtures::AddComposeHashRequest(1)), ComposeItem(OnlyIfSigned(fixtures::AddComposeHashRequest(1))),
       ComposeItem(OnlyIfSigned(fixtures::AddComposeHashRequest(2))), ComposeItem(OnlyIfSigned(other))},
      &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(out.results_size(), 4);
  EXPECT_EQ(out.results(0).signed_transaction().nonce_use(), v1::NONCE_USE_FIRST) << out.results(0).message();
  EXPECT_EQ(out.results(1).code(), 0) << out.results(1).message();
  EXPECT_EQ(out.results(1).signed_transaction().nonce_use(), v1::NONCE_USE_REPEAT);
  EXPECT_EQ(out.results(1).signed_transaction().raw_transaction(),
            out.results(0).signed_transaction().raw_transaction());
  for (int i : {2, 3}) {
    EXPECT_EQ(out.results(i).code(), grpc::StatusCode::NOT_FOUND) << out.results(i).message();
    EXPECT_THAT(out.results(i).message(), ::testing::HasSubstr("not signed before: only_if_signed"));
    EXPECT_FALSE(out.results(i).has_signed_transaction());
  }
  EXPECT_EQ(RecordsAt(fixtures::kFrom, 1), 1u);
  EXPECT_EQ(RecordsAt(fixtures::kFrom, 2), 0u);
  expected_audit_records_ = 4;
}

// A batch [ok, refused, ok] of one sender at nonces 1, 2, 3. With stop_sender_at_refusal the
// third item is not started (ABORTED; nothing recorded or audited, nonce 3 stays free); without
// it, it is signed as today.
class SignerServiceStopTest : public SignerServiceTest {
 protected:
  static v1::SignAddComposeHashRequest Refused(uint64_t nonce) {
    v1::SignAddComposeHashRequest r = fixtures::AddComposeHashRequest(nonce);
    r.set_app_contract_address("0x1111111111111111111111111111111111111111");  // not in the policy
    return r;
  }
  static v1::SignAddComposeHashRequest Labelled(v1::SignAddComposeHashRequest r, const std::string& id) {
    r.set_request_id(id);
    return r;
  }
  std::vector<v1::SignBatchItem> OkRefusedOk() {
    return {ComposeItem(Labelled(fixtures::AddComposeHashRequest(1), "item-0")),
            ComposeItem(Labelled(Refused(2), "item-1")),
            ComposeItem(Labelled(fixtures::AddComposeHashRequest(3), "item-2"))};
  }
  std::string AuditText() {
    std::ifstream in(dir_ + "/audit.jsonl");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

TEST_F(SignerServiceStopTest, AnItemAfterARefusedOneOfItsSenderIsNotStarted) {
  v1::SignBatchResponse out;
  const grpc::Status st = Batch(OkRefusedOk(), &out, /*stop_sender_at_refusal=*/true);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(out.results_size(), 3);
  EXPECT_EQ(out.results(0).code(), 0) << out.results(0).message();
  EXPECT_EQ(out.results(1).code(), grpc::StatusCode::PERMISSION_DENIED) << out.results(1).message();
  EXPECT_EQ(out.results(2).code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(out.results(2).message(), "not started: an earlier item of this sender was refused");
  EXPECT_FALSE(out.results(2).has_signed_transaction());
  EXPECT_EQ(RecordsAt(fixtures::kFrom, 3), 0u) << "nothing recorded for the item not started";
  const std::string audit = AuditText();
  EXPECT_THAT(audit, ::testing::HasSubstr("\"item-1\""));
  EXPECT_THAT(audit, ::testing::Not(::testing::HasSubstr("\"item-2\""))) << "not started: not audited";

  // Nonce 3 was left free: another transaction there is its first signature.
  v1::SignAddComposeHashRequest later = fixtures::AddComposeHashRequest(3);
  later.set_compose_hash(std::string(64, 'b'));
  grpc::ClientContext ctx;
  v1::SignedTransaction signed_later;
  const grpc::Status later_st = stub_->SignAddComposeHash(&ctx, later, &signed_later);
  ASSERT_TRUE(later_st.ok()) << later_st.error_message();
  EXPECT_EQ(signed_later.nonce_use(), v1::NONCE_USE_FIRST);
  expected_audit_records_ = 2 + 1;
}

TEST_F(SignerServiceStopTest, WithoutTheFlagTheItemsAfterARefusalAreSigned) {
  v1::SignBatchResponse out;
  const grpc::Status st = Batch(OkRefusedOk(), &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(out.results_size(), 3);
  EXPECT_EQ(out.results(0).code(), 0) << out.results(0).message();
  EXPECT_EQ(out.results(1).code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(out.results(2).code(), 0) << out.results(2).message();
  EXPECT_EQ(out.results(2).signed_transaction().nonce_use(), v1::NONCE_USE_FIRST);
  EXPECT_EQ(RecordsAt(fixtures::kFrom, 3), 1u);
  expected_audit_records_ = 3;
}

// An item that waits for its nonce (another request holds it) may still be refused after the
// wait, so the sender's later items start only once it is decided: here another transaction was
// recorded at its nonce meanwhile, so it is refused and the item after it is not started.
TEST_F(SignerServiceStopTest, TheItemsAfterOneWaitingForItsNonceWaitForItsDecision) {
  const chain::Address from = *chain::Address::Parse(fixtures::kFrom);
  auto busy = std::make_unique<std::shared_ptr<equivocation::Store::Slot>>(store_->Acquire({31337, from, 2}));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::SignBatchRequest request;
  request.set_stop_sender_at_refusal(true);
  for (uint64_t nonce : {1, 2, 3}) *request.add_items() = ComposeItem(fixtures::AddComposeHashRequest(nonce));
  v1::SignBatchResponse out;
  grpc::Status st;
  absl::Notification done;
  stub_->async()->SignBatch(&ctx, &request, &out, [&](grpc::Status s) {
    st = std::move(s);
    done.Notify();
  });
  // Nonce 1's record is committed once the start loop stopped at nonce 2 (waiting for it): a
  // record of nonce 3 started meanwhile would be in that same commit.
  ASSERT_TRUE(platform::testing::WaitFor([&] { return RecordsAt(fixtures::kFrom, 1) == 1; }));
  EXPECT_FALSE(done.HasBeenNotified());
  EXPECT_EQ(RecordsAt(fixtures::kFrom, 3), 0u) << "nonce 3 started before nonce 2 was decided";
  ASSERT_TRUE(store_->RecordSync(OtherRecord(fixtures::kFrom, 2)).ok());  // the holder's transaction
  busy.reset();

  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(out.results_size(), 3);
  EXPECT_EQ(out.results(0).code(), 0) << out.results(0).message();
  EXPECT_EQ(out.results(1).code(), grpc::StatusCode::FAILED_PRECONDITION) << out.results(1).message();
  EXPECT_EQ(out.results(2).code(), grpc::StatusCode::ABORTED) << out.results(2).message();
  EXPECT_EQ(RecordsAt(fixtures::kFrom, 3), 0u);
  expected_audit_records_ = 2;
}

// Only the refused item's sender stops: another key's items, and message items of the same key,
// are decided as without the flag, whatever their place in the batch.
class SignerServiceStopTwoSendersTest : public SignerServiceStopTest {
 protected:
  void SetUp() override {
    more_policy_ = "message_signing { enabled: true }";
    SignerServiceStopTest::SetUp();
  }
  static v1::SignBatchItem OfKey1(v1::SignAddComposeHashRequest r) {
    r.set_from_address(fixtures::kFrom1);
    return ComposeItem(std::move(r));
  }
};

TEST_F(SignerServiceStopTwoSendersTest, OnlyTheRefusedItemsSenderStops) {
  v1::SignBatchItem message;
  message.mutable_message()->set_from_address(fixtures::kFrom);
  message.mutable_message()->set_message("0x68656c6c6f");
  v1::SignBatchResponse out;
  const grpc::Status st =
      Batch({ComposeItem(fixtures::AddComposeHashRequest(1)), OfKey1(fixtures::AddComposeHashRequest(1)),
             ComposeItem(Refused(2)), OfKey1(fixtures::AddComposeHashRequest(2)), message,
             ComposeItem(fixtures::AddComposeHashRequest(3)), OfKey1(fixtures::AddComposeHashRequest(3))},
            &out, /*stop_sender_at_refusal=*/true);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(out.results_size(), 7);
  const std::vector<int> codes = {0, 0, grpc::StatusCode::PERMISSION_DENIED, 0, 0, grpc::StatusCode::ABORTED, 0};
  for (int i = 0; i < 7; ++i) EXPECT_EQ(out.results(i).code(), codes[i]) << i << ": " << out.results(i).message();
  for (int i : {1, 3, 6}) {
    EXPECT_EQ(out.results(i).signed_transaction().from_address(), fixtures::kFrom1) << i;
    EXPECT_EQ(out.results(i).signed_transaction().nonce_use(), v1::NONCE_USE_FIRST) << i;
  }
  EXPECT_FALSE(out.results(4).signed_message().signature().empty());
  EXPECT_EQ(RecordsAt(fixtures::kFrom, 3), 0u);
  EXPECT_EQ(RecordsAt(fixtures::kFrom1, 3), 1u);
  expected_audit_records_ = 6;
}

// The policy's caller bindings apply to each item: an intent the caller is not bound to is
// refused for that item only.
class SignerServiceBoundTest : public SignerServiceTest {
 protected:
  void SetUp() override {
    callers_ = absl::StrCat(R"pb(callers { name: "orchestrator" identities: "uid:)pb", ::getuid(),
                            R"pb(" keys: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
                                 intents: INTENT_ADD_COMPOSE_HASH })pb");
    SignerServiceTest::SetUp();
  }
};

TEST_F(SignerServiceBoundTest, SignBatchAppliesTheCallerBindingPerItem) {
  v1::SignBatchItem message;
  message.mutable_message()->set_from_address(fixtures::kFrom);
  message.mutable_message()->set_message("0x68656c6c6f");
  v1::SignBatchResponse out;
  const grpc::Status st = Batch({ComposeItem(fixtures::AddComposeHashRequest(1)), message}, &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(out.results_size(), 2);
  EXPECT_EQ(out.results(0).code(), 0) << out.results(0).message();
  EXPECT_EQ(out.results(1).code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(out.results(1).message(), ::testing::HasSubstr("callers[name=\"orchestrator\"].intents"));
  EXPECT_FALSE(out.results(1).has_signed_message());
  expected_audit_records_ = 2;
}

}  // namespace
}  // namespace signer
