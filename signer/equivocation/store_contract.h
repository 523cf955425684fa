// Test-only: what every Store backend must do, as a typed test suite. A backend's test file
// defines a Backend class with `std::unique_ptr<Store> Open(const std::string& name)` (the same
// name again opens the same records, as after a restart) and instantiates the suite:
//   namespace store_contract { INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreContract, SqliteBackend); }
#ifndef ONCHAIN_KMS_SIGNER_EQUIVOCATION_STORE_CONTRACT_H_
#define ONCHAIN_KMS_SIGNER_EQUIVOCATION_STORE_CONTRACT_H_

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chain/keccak.h"
#include "signer/equivocation/store.h"

namespace signer::equivocation::store_contract {

inline const chain::Address kSender = *chain::Address::Parse("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
inline const chain::Address kTo = *chain::Address::Parse("0x2222222222222222222222222222222222222222");
inline const chain::Bytes kData = {0xdf, 0xc7, 0x72, 0x23};

inline Candidate Make(uint64_t nonce, uint64_t fee, uint64_t tip, chain::Bytes data = kData, uint64_t gas = 60000) {
  Candidate c;
  c.key = SlotKey{8453, kSender, nonce};
  c.to = kTo;
  c.data = std::move(data);
  c.gas_limit = gas;
  c.max_fee_per_gas = chain::U256(fee);
  c.max_priority_fee_per_gas = chain::U256(tip);
  // Any injective digest of the payload will do for the store.
  std::string payload = absl::StrCat(c.key.chain_id, "/", c.key.nonce, "/", fee, "/", tip, "/", gas, "/");
  payload.append(c.data.begin(), c.data.end());
  c.signing_hash = chain::Keccak256(payload);
  return c;
}

// What the engine would record for `c` after `v` (kFirst or kFeeBump).
inline Record ToRecord(const Candidate& c, const Verdict& v) {
  Record r;
  static_cast<Candidate&>(r) = c;
  r.raw = {0x02, 0xf8, static_cast<uint8_t>(c.key.nonce)};
  r.raw.insert(r.raw.end(), c.signing_hash.bytes().begin(), c.signing_hash.bytes().end());
  r.tx_hash = chain::Keccak256(chain::ByteView(c.signing_hash.bytes()));
  r.nonce_use = v.kind == Verdict::Kind::kFeeBump ? NonceUse::kFeeBump : NonceUse::kFirst;
  r.slot_version = v.slot_version;
  r.replaced_tx_hash = v.replaced;
  r.budget_charge = chain::U256(c.gas_limit * c.max_fee_per_gas.Low64());
  r.signed_at = absl::Now();
  return r;
}

// The engine's steps for one request: hold the slot, classify, record a FIRST or FEE_BUMP; a
// record that lost a race to another store (ABORTED) is classified again, as the engine does.
inline Verdict ClassifyAndRecord(Store& store, const Candidate& c) {
  auto slot = store.Acquire(c.key);
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<Verdict> v = store.Classify(*slot, c);
    EXPECT_TRUE(v.ok()) << v.status();
    if (!v.ok()) return Verdict{Verdict::Kind::kConflict, std::nullopt, std::nullopt, {}, v.status()};
    if (v->kind != Verdict::Kind::kFirst && v->kind != Verdict::Kind::kFeeBump) return *v;
    const absl::Status s = store.RecordSync(ToRecord(c, *v));
    if (s.ok()) return *v;
    EXPECT_TRUE(absl::IsAborted(s) && attempt < 3) << s;
    if (!absl::IsAborted(s) || attempt >= 3)
      return Verdict{Verdict::Kind::kConflict, std::nullopt, std::nullopt, {}, s};
  }
}

template <typename Backend>
class StoreContract : public ::testing::Test {
 protected:
  Backend backend_;
};
TYPED_TEST_SUITE_P(StoreContract);

TYPED_TEST_P(StoreContract, FirstRepeatFeeBumpConflictAcrossRestart) {
  {
    std::unique_ptr<Store> store = this->backend_.Open("a");
    EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1000, 100)).kind, Verdict::Kind::kFirst);
    Verdict repeat = ClassifyAndRecord(*store, Make(7, 1000, 100));
    ASSERT_EQ(repeat.kind, Verdict::Kind::kRepeat);
    EXPECT_EQ(repeat.repeat->raw, ToRecord(Make(7, 1000, 100), Verdict{}).raw);
    EXPECT_EQ(ClassifyAndRecord(*store, Make(8, 1000, 100)).kind, Verdict::Kind::kFirst) << "other nonce";
  }
  // Restart: the record survives.
  std::unique_ptr<Store> store = this->backend_.Open("a");
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1000, 100)).kind, Verdict::Kind::kRepeat);
  Verdict other_data = ClassifyAndRecord(*store, Make(7, 1000, 100, {0xde, 0xad, 0xbe, 0xef}));
  EXPECT_EQ(other_data.kind, Verdict::Kind::kConflict);
  EXPECT_TRUE(absl::IsFailedPrecondition(other_data.conflict));
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1099, 110)).kind, Verdict::Kind::kConflict) << "fee +9.9%";
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1100, 100)).kind, Verdict::Kind::kConflict) << "tip not raised";
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 900, 90)).kind, Verdict::Kind::kConflict) << "lower fees";
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1000, 100, kData, 70000)).kind, Verdict::Kind::kConflict)
      << "only the gas limit changed";
  Verdict bump = ClassifyAndRecord(*store, Make(7, 1100, 110, kData, 70000));
  ASSERT_EQ(bump.kind, Verdict::Kind::kFeeBump);
  EXPECT_EQ(bump.slot_version, 2u);
  EXPECT_EQ(*bump.replaced, ToRecord(Make(7, 1000, 100), Verdict{}).tx_hash);
  // The next bump is measured against the highest fees signed so far.
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1200, 120, kData, 70000)).kind, Verdict::Kind::kConflict);
  // A replacement keeps at least the gas limit of the one it replaces (70000): a lower one could
  // run out of gas and burn the nonce.
  Verdict lower_gas = ClassifyAndRecord(*store, Make(7, 1210, 121, kData, 69999));
  EXPECT_EQ(lower_gas.kind, Verdict::Kind::kConflict);
  EXPECT_TRUE(absl::IsFailedPrecondition(lower_gas.conflict));
  EXPECT_NE(lower_gas.conflict.message().find("gas_limit 69999 is below 70000"), std::string::npos)
      << lower_gas.conflict;
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1210, 121, kData, 70000)).slot_version, 3u);
  // Older versions can still be fetched again as repeats (the caller may still hold them).
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1000, 100)).kind, Verdict::Kind::kRepeat);
  absl::StatusOr<std::vector<Record>> rows = store->RecordsFor(SlotKey{8453, kSender, 7});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[2].nonce_use, NonceUse::kFeeBump);
  EXPECT_EQ((*rows)[2].max_fee_per_gas, chain::U256(1210));
  EXPECT_EQ((*rows)[2].data, kData);
  int seen = 0;
  ASSERT_TRUE(store->ForEachSince(absl::Now() - absl::Hours(24), [&](const Record&) { ++seen; }).ok());
  EXPECT_EQ(seen, 4);
}

TYPED_TEST_P(StoreContract, ConcurrentWritersShareCommits) {
  std::unique_ptr<Store> store = this->backend_.Open("b");
  constexpr int kThreads = 32, kPerThread = 20;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (ClassifyAndRecord(*store, Make(static_cast<uint64_t>(t * 1000 + i), 1000, 100)).kind ==
            Verdict::Kind::kFirst)
          ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(store->records_written(), static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_LT(store->commits(), store->records_written()) << "group commit batches concurrent records";
}

TYPED_TEST_P(StoreContract, SameSlotRequestsAreSerialized) {
  std::unique_ptr<Store> store = this->backend_.Open("c");
  // 16 threads race to sign different payloads for one nonce: exactly one wins, the others see
  // a conflict.
  std::vector<std::thread> threads;
  std::atomic<int> first{0}, conflict{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      Verdict v = ClassifyAndRecord(*store, Make(1, 1000, 100, {0x01, 0x02, 0x03, static_cast<uint8_t>(t)}));
      if (v.kind == Verdict::Kind::kFirst) ++first;
      if (v.kind == Verdict::Kind::kConflict) ++conflict;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(first.load(), 1);
  EXPECT_EQ(conflict.load(), 15);
}

REGISTER_TYPED_TEST_SUITE_P(StoreContract, FirstRepeatFeeBumpConflictAcrossRestart, ConcurrentWritersShareCommits,
                            SameSlotRequestsAreSerialized);

}  // namespace signer::equivocation::store_contract

#endif  // ONCHAIN_KMS_SIGNER_EQUIVOCATION_STORE_CONTRACT_H_
