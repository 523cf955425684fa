// MemoryNonceStore's slot rules, the request codec, and the repair of orphaned requests, with the
// in-process signer (no chain): what the allocator relies on under a hold.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "chain/onchain/local_key_signer.h"
#include "chain/onchain/memory_nonce_store.h"
#include "chain/onchain/nonce_repair.h"
#include "chain/onchain/tx_request.h"

namespace chain::onchain {
namespace {

constexpr char kKey0[] = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const Address kApp = *Address::Parse("0x1111111111111111111111111111111111111111");

TxRequest Request(const Address& from, uint64_t nonce, uint64_t fee, const char* request_id = "op_1/step") {
  TxEnvelope e{.request_id = request_id,
               .chain_id = 31337,
               .from = from,
               .nonce = nonce,
               .gas_limit = 60'000,
               .max_fee_per_gas = U256(fee),
               .max_priority_fee_per_gas = U256(fee / 2)};
  return {e, TxIntent::AddComposeHash(kApp, Hash32::FromHex(std::string(64, 'c')).value())};
}

TEST(TxRequest, RoundTripsAndRejectsGarbage) {
  const TxRequest r = Request(kApp, 5, 1000);
  absl::StatusOr<TxRequest> back = DecodeTxRequest(EncodeTxRequest(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->envelope.request_id, "op_1/step");
  EXPECT_EQ(back->envelope.nonce, 5u);
  EXPECT_EQ(back->envelope.max_fee_per_gas, U256(1000));
  EXPECT_EQ(back->intent.Calldata(), r.intent.Calldata());
  EXPECT_EQ(DecodeTxRequest("{").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(RequestKey(r.envelope), RequestKey(Request(kApp, 5, 10000).envelope)) << "keys sort by max fee";
}

TEST(MemoryNonceStore, SlotsAreReservedOnceAndARefusedOneIsFreeAgain) {
  MemoryNonceStore store;
  std::unique_ptr<SenderHold> hold = *store.Hold(31337, kApp, {});
  EXPECT_EQ(*hold->Floor(), std::nullopt);
  ASSERT_TRUE(hold->Record(Request(kApp, 3, 1000), /*first=*/true).ok());
  EXPECT_EQ(hold->Record(Request(kApp, 3, 1000, "op_2/step"), /*first=*/true).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(*hold->Floor(), std::optional<uint64_t>(4));
  std::vector<SlotView> open = *hold->Open();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].state, SlotView::State::kReserved);
  ASSERT_EQ(open[0].pending.size(), 1u);
  ASSERT_TRUE(hold->Refused(open[0].pending[0].envelope).ok());
  EXPECT_TRUE(hold->Open()->empty());
  EXPECT_EQ(*hold->Floor(), std::nullopt) << "VOID does not count";
  EXPECT_TRUE(hold->Record(Request(kApp, 3, 1000, "op_2/step"), /*first=*/true).ok());
}

TEST(MemoryNonceStore, AnOrphanIsSignedAgainWithTheSameBytesThenMinedAndClosed) {
  auto signer = *LocalKeySigner::FromHex(kKey0);
  MemoryNonceStore store(/*reorg_grace=*/absl::ZeroDuration());
  const TxRequest r = Request(signer->address(), 0, 1000);
  absl::StatusOr<SignedTx> lost;
  {
    std::unique_ptr<SenderHold> hold = *store.Hold(31337, signer->address(), {});
    ASSERT_TRUE(hold->Record(r, /*first=*/true).ok());
    lost = SignIntent(*signer, r.envelope, r.intent);  // the answer dies with its process
    ASSERT_TRUE(lost.ok());
  }
  std::unique_ptr<SenderHold> hold = *store.Hold(31337, signer->address(), {});
  absl::StatusOr<std::vector<TxJournal>> repaired = RepairOrphans(store, *hold, *signer, *hold->Open());
  ASSERT_TRUE(repaired.ok()) << repaired.status();
  ASSERT_EQ(repaired->size(), 1u);
  EXPECT_EQ((*repaired)[0].newest().raw, lost->raw);
  std::vector<SlotView> open = *hold->Open();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].state, SlotView::State::kSigned);
  EXPECT_TRUE(open[0].pending.empty());
  EXPECT_EQ(signer->refusals(), 0);
  ASSERT_TRUE(store.Chain(31337, signer->address(), 1).ok());
  EXPECT_TRUE(hold->Open()->empty()) << "mined";
  EXPECT_EQ(*hold->Floor(), std::optional<uint64_t>(1));
  ASSERT_TRUE(store.Chain(31337, signer->address(), 0).ok());
  EXPECT_EQ(hold->Open()->size(), 1u) << "a reorg took it back";
}

TEST(MemoryNonceStore, ARefusedOrphanIsClosedAndTheNonceFreed) {
  auto signer = *LocalKeySigner::FromHex(kKey0);
  MemoryNonceStore store;
  std::unique_ptr<SenderHold> hold = *store.Hold(31337, signer->address(), {});
  ASSERT_TRUE(hold->Record(Request(signer->address(), 0, 1000), /*first=*/true).ok());
  signer->FailNext(absl::PermissionDeniedError("policy"));
  absl::StatusOr<std::vector<TxJournal>> repaired = RepairOrphans(store, *hold, *signer, *hold->Open());
  ASSERT_TRUE(repaired.ok()) << repaired.status();
  EXPECT_TRUE(repaired->empty());
  EXPECT_TRUE(hold->Open()->empty());
  EXPECT_EQ(*hold->Floor(), std::nullopt);
}

TEST(MemoryNonceStore, AnUnreachableSignerStopsTheRepairBeforeAnythingIsChosen) {
  auto signer = *LocalKeySigner::FromHex(kKey0);
  MemoryNonceStore store;
  std::unique_ptr<SenderHold> hold = *store.Hold(31337, signer->address(), {});
  ASSERT_TRUE(hold->Record(Request(signer->address(), 0, 1000), /*first=*/true).ok());
  signer->FailNext(absl::UnavailableError("signer down"));
  EXPECT_EQ(RepairOrphans(store, *hold, *signer, *hold->Open()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(hold->Open()->at(0).pending.size(), 1u) << "still there for the next holder";
}

}  // namespace
}  // namespace chain::onchain
