#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "chain/keccak.h"
#include "signer/equivocation/sqlite_store.h"

namespace signer::equivocation {
namespace {

const chain::Address kSender = *chain::Address::Parse("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
const chain::Address kTo = *chain::Address::Parse("0x2222222222222222222222222222222222222222");

std::string DbPath(const std::string& name) { return std::string(getenv("TEST_TMPDIR")) + "/" + name; }

Candidate Make(uint64_t nonce, uint64_t fee, uint64_t tip, chain::Bytes data = {0xdf, 0xc7, 0x72, 0x23},
               uint64_t gas = 60000) {
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

Record ToRecord(const Candidate& c, NonceUse use) {
  Record r;
  static_cast<Candidate&>(r) = c;
  r.raw = {0x02, 0xf8, static_cast<uint8_t>(c.key.nonce)};
  r.tx_hash = chain::Keccak256(chain::ByteView(c.signing_hash.bytes()));
  r.nonce_use = use;
  r.budget_charge = chain::U256(c.gas_limit * c.max_fee_per_gas.Low64());
  r.signed_at = absl::Now();
  return r;
}

Verdict ClassifyAndRecord(Store& store, const Candidate& c) {
  auto slot = store.Acquire(c.key);
  absl::StatusOr<Verdict> v = store.Classify(*slot, c);
  EXPECT_TRUE(v.ok()) << v.status();
  if (v->kind == Verdict::Kind::kFirst || v->kind == Verdict::Kind::kFeeBump) {
    Record r = ToRecord(c, v->kind == Verdict::Kind::kFirst ? NonceUse::kFirst : NonceUse::kFeeBump);
    r.replaced_tx_hash = v->replaced;
    EXPECT_TRUE(store.RecordSync(r).ok());
  }
  return *v;
}

TEST(Store, FirstRepeatFeeBumpConflictAcrossRestart) {
  const std::string path = DbPath("a.sqlite");
  {
    auto store = *SqliteStore::Open(path);
    EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1000, 100)).kind, Verdict::Kind::kFirst);
    Verdict repeat = ClassifyAndRecord(*store, Make(7, 1000, 100));
    ASSERT_EQ(repeat.kind, Verdict::Kind::kRepeat);
    EXPECT_EQ(repeat.repeat->raw, (chain::Bytes{0x02, 0xf8, 7}));
    EXPECT_EQ(ClassifyAndRecord(*store, Make(8, 1000, 100)).kind, Verdict::Kind::kFirst) << "other nonce";
  }
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Restart: the record survives.
  auto store = *SqliteStore::Open(path);
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1000, 100)).kind, Verdict::Kind::kRepeat);
  Verdict other_data = ClassifyAndRecord(*store, Make(7, 1000, 100, {0xde, 0xad, 0xbe, 0xef}));
  EXPECT_EQ(other_data.kind, Verdict::Kind::kConflict);
  EXPECT_TRUE(absl::IsFailedPrecondition(other_data.conflict));
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1099, 110)).kind, Verdict::Kind::kConflict) << "fee +9.9%";
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1100, 100)).kind, Verdict::Kind::kConflict) << "tip not raised";
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 900, 90)).kind, Verdict::Kind::kConflict) << "lower fees";
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1000, 100, {0xdf, 0xc7, 0x72, 0x23}, 70000)).kind,
            Verdict::Kind::kConflict)
      << "only the gas limit changed";
  Verdict bump = ClassifyAndRecord(*store, Make(7, 1100, 110, {0xdf, 0xc7, 0x72, 0x23}, 70000));
  ASSERT_EQ(bump.kind, Verdict::Kind::kFeeBump);
  EXPECT_EQ(*bump.replaced, ToRecord(Make(7, 1000, 100), NonceUse::kFirst).tx_hash);
  // The next bump is measured against the highest fees signed so far.
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1200, 120)).kind, Verdict::Kind::kConflict);
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1210, 121)).kind, Verdict::Kind::kFeeBump);
  // Older versions can still be fetched again as repeats (the caller may still hold them).
  EXPECT_EQ(ClassifyAndRecord(*store, Make(7, 1000, 100)).kind, Verdict::Kind::kRepeat);
  absl::StatusOr<std::vector<Record>> rows = store->RecordsFor(SlotKey{8453, kSender, 7});
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 3u);
  int seen = 0;
  ASSERT_TRUE(store->ForEachSince(absl::Now() - absl::Hours(24), [&](const Record&) { ++seen; }).ok());
  EXPECT_EQ(seen, 4);
}

TEST(Store, RaisedByTenPercent) {
  EXPECT_TRUE(RaisedByTenPercent(chain::U256(100), chain::U256(110)));
  EXPECT_FALSE(RaisedByTenPercent(chain::U256(100), chain::U256(109)));
  EXPECT_FALSE(RaisedByTenPercent(chain::U256(0), chain::U256(0)));
  EXPECT_TRUE(RaisedByTenPercent(chain::U256(0), chain::U256(1)));
  EXPECT_FALSE(RaisedByTenPercent(chain::U256::Max(), chain::U256::Max()));
}

TEST(Store, ConcurrentWritersShareCommits) {
  auto store = *SqliteStore::Open(DbPath("b.sqlite"));
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

TEST(Store, SameSlotRequestsAreSerialized) {
  auto store = *SqliteStore::Open(DbPath("c.sqlite"));
  // 16 threads race to sign different payloads for one nonce: exactly one wins, the others see
  // either a repeat of nothing (impossible) or a conflict.
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

TEST(Store, ASecondOpenOfTheSameDatabaseIsRefused) {
  const std::string path = DbPath("locked.sqlite");
  auto store = *SqliteStore::Open(path);
  absl::StatusOr<std::unique_ptr<SqliteStore>> second = SqliteStore::Open(path);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(absl::StrCat("anti-equivocation db: database ", path, " is in use")),
            std::string::npos)
      << second.status();
  store.reset();
  EXPECT_TRUE(SqliteStore::Open(path).ok()) << "free again once the first is closed";
}

}  // namespace
}  // namespace signer::equivocation
