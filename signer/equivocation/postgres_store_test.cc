#include "signer/equivocation/postgres_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "platform/postgres/shared_server.h"
#include "signer/equivocation/store_contract.h"

namespace signer::equivocation {
namespace {

using platform::postgres::Dsn;
using platform::postgres::SharedServer;
using store_contract::ClassifyAndRecord;
using store_contract::Make;
using store_contract::ToRecord;

std::unique_ptr<PostgresStore> OpenStore(const Dsn& dsn) {
  absl::StatusOr<std::unique_ptr<PostgresStore>> store = PostgresStore::Open(dsn);
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) std::abort();
  return *std::move(store);
}

// A new database "<test>_<name>" on the shared server. The test server runs with
// synchronous_commit off (and fsync off); the store refuses that, so this database turns it on.
Dsn NewDatabase(const std::string& name) {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string db = absl::AsciiStrToLower(absl::StrCat(info->name(), "_", name));
  absl::StatusOr<std::string> file = SharedServer().CreateDatabase(db);
  EXPECT_TRUE(file.ok()) << file.status();
  const Dsn dsn = *Dsn::FromFile(*file);
  EXPECT_TRUE(
      platform::postgres::Connect(dsn)->Exec(absl::StrCat("ALTER DATABASE ", db, " SET synchronous_commit = on")).ok());
  return dsn;
}

// One database per test and name.
class PostgresBackend {
 public:
  std::unique_ptr<Store> Open(const std::string& name) {
    auto [it, created] = dsns_.try_emplace(name, std::nullopt);
    if (created) it->second = NewDatabase(name);
    return OpenStore(*it->second);
  }

 private:
  std::map<std::string, std::optional<Dsn>> dsns_;
};

Verdict ClassifyNow(Store& store, const Candidate& c) {
  auto slot = store.Acquire(c.key);
  absl::StatusOr<Verdict> v = store.Classify(*slot, c);
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

// Two replicas both classify before either commits: the commit decides, the loser is ABORTED and
// classifies again against the winner's record.
TEST(PostgresStore, ALostRaceIsAbortedAndClassifiedAgain) {
  const Dsn dsn = NewDatabase("db");
  std::unique_ptr<PostgresStore> a = OpenStore(dsn), b = OpenStore(dsn);
  const Candidate mine = Make(5, 1000, 100), theirs = Make(5, 1000, 100, {0xde, 0xad});
  const Verdict va = ClassifyNow(*a, mine), vb = ClassifyNow(*b, theirs), vsame = ClassifyNow(*b, mine);
  ASSERT_EQ(va.kind, Verdict::Kind::kFirst);
  ASSERT_EQ(vb.kind, Verdict::Kind::kFirst);
  ASSERT_TRUE(a->RecordSync(ToRecord(mine, va)).ok());
  EXPECT_TRUE(absl::IsAborted(b->RecordSync(ToRecord(theirs, vb))));
  EXPECT_EQ(ClassifyNow(*b, theirs).kind, Verdict::Kind::kConflict);
  EXPECT_TRUE(absl::IsAborted(b->RecordSync(ToRecord(mine, vsame)))) << "the same payload: the unique hash";
  Verdict repeat = ClassifyNow(*b, mine);
  ASSERT_EQ(repeat.kind, Verdict::Kind::kRepeat);
  EXPECT_EQ(repeat.repeat->raw, ToRecord(mine, va).raw);

  // Two bumps of version 2 at once: one wins; the other is a bump of version 3 only if it is
  // still 10% above the winner.
  const Candidate small = Make(5, 1100, 110), big = Make(5, 1300, 130), bigger = Make(5, 1500, 150);
  const Verdict v_small = ClassifyNow(*a, small), v_big = ClassifyNow(*b, big), v_bigger = ClassifyNow(*a, bigger);
  ASSERT_EQ(v_small.slot_version, 2u);
  ASSERT_EQ(v_big.slot_version, 2u);
  ASSERT_TRUE(b->RecordSync(ToRecord(big, v_big)).ok());
  EXPECT_TRUE(absl::IsAborted(a->RecordSync(ToRecord(small, v_small))));
  EXPECT_EQ(ClassifyNow(*a, small).kind, Verdict::Kind::kConflict) << "1100 is not 10% above 1300";
  EXPECT_TRUE(absl::IsAborted(a->RecordSync(ToRecord(bigger, v_bigger))));
  const Verdict again = ClassifyNow(*a, bigger);
  ASSERT_EQ(again.kind, Verdict::Kind::kFeeBump);
  EXPECT_EQ(again.slot_version, 3u);
  EXPECT_EQ(*again.replaced, ToRecord(big, v_big).tx_hash);
  ASSERT_TRUE(a->RecordSync(ToRecord(bigger, again)).ok());
  EXPECT_EQ(b->RecordsFor(mine.key)->size(), 3u);
}

TEST(PostgresStore, AFeeBumpOnTheOtherReplicaFollowsTheRules) {
  const Dsn dsn = NewDatabase("db");
  std::unique_ptr<PostgresStore> a = OpenStore(dsn), b = OpenStore(dsn);
  ASSERT_EQ(ClassifyAndRecord(*a, Make(9, 1000, 100)).kind, Verdict::Kind::kFirst);
  EXPECT_EQ(ClassifyAndRecord(*b, Make(9, 1050, 105)).kind, Verdict::Kind::kConflict) << "+5%";
  EXPECT_EQ(ClassifyAndRecord(*b, Make(9, 1100, 110, {0x01})).kind, Verdict::Kind::kConflict) << "other data";
  const Verdict bump = ClassifyAndRecord(*b, Make(9, 1100, 110));
  ASSERT_EQ(bump.kind, Verdict::Kind::kFeeBump);
  EXPECT_EQ(bump.slot_version, 2u);
  EXPECT_EQ(ClassifyAndRecord(*a, Make(9, 1100, 110)).kind, Verdict::Kind::kRepeat) << "A sees B's bump";
  EXPECT_EQ(ClassifyAndRecord(*a, Make(9, 1150, 115)).kind, Verdict::Kind::kConflict) << "+10% of B's bump needed";
}

// The proof at store level: two replicas (two stores, two sets of connections), 8 threads,
// every thread asks for every nonce with its own payload (threads t and t + 4 share one, on
// different replicas). Exactly one FIRST per nonce; every other answer is a REPEAT of the
// winner's payload or a refusal.
TEST(PostgresStore, TwoReplicasRacingDifferentPayloadsSignOncePerNonce) {
  const Dsn dsn = NewDatabase("db");
  std::unique_ptr<PostgresStore> replicas[2] = {OpenStore(dsn), OpenStore(dsn)};
  constexpr int kThreads = 8, kNonces = 40;
  auto payload = [](int t) { return chain::Bytes{0xaa, static_cast<uint8_t>(t % 4)}; };
  absl::Mutex mu;
  std::map<uint64_t, std::vector<std::pair<int, Verdict::Kind>>> outcomes;
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (uint64_t n = 0; n < kNonces; ++n) {
        const Verdict v = ClassifyAndRecord(*replicas[t % 2], Make(n, 1000, 100, payload(t)));
        absl::MutexLock lock(&mu);
        outcomes[n].emplace_back(t, v.kind);
      }
    });
  }
  go.store(true);
  for (std::thread& th : threads) th.join();
  for (const auto& [nonce, results] : outcomes) {
    int winner = -1, firsts = 0;
    for (const auto& [t, kind] : results) {
      if (kind == Verdict::Kind::kFirst) winner = t, ++firsts;
    }
    ASSERT_EQ(firsts, 1) << "nonce " << nonce;
    for (const auto& [t, kind] : results) {
      if (t == winner) continue;
      EXPECT_EQ(kind, payload(t) == payload(winner) ? Verdict::Kind::kRepeat : Verdict::Kind::kConflict)
          << "nonce " << nonce << " thread " << t;
    }
    absl::StatusOr<std::vector<Record>> rows = replicas[0]->RecordsFor(Make(nonce, 1000, 100).key);
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), 1u) << "nonce " << nonce;
    EXPECT_EQ((*rows)[0].data, payload(winner));
  }
  EXPECT_EQ(outcomes.size(), static_cast<size_t>(kNonces));
}

// The 24 h fee budget is global: two replicas recording at once for one key together stay
// within it (checked at commit under the key's row lock); a key without a budget is not limited.
TEST(PostgresStore, TheFeeBudgetIsSharedByReplicas) {
  const Dsn dsn = NewDatabase("db");
  std::unique_ptr<PostgresStore> replicas[2] = {OpenStore(dsn), OpenStore(dsn)};
  const chain::U256 charge(60000ull * 1000);  // ToRecord's charge: gas_limit * max_fee
  std::atomic<int> ok{0}, exhausted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      const Candidate c = Make(static_cast<uint64_t>(100 + t), 1000, 100);
      auto slot = replicas[t % 2]->Acquire(c.key);
      Record r = ToRecord(c, Verdict{});
      r.fee_budget_24h = chain::U256(charge.Low64() * 3 + 1);
      const absl::Status s = replicas[t % 2]->RecordSync(r);
      if (s.ok()) ++ok;
      if (absl::IsResourceExhausted(s)) ++exhausted;
      EXPECT_TRUE(s.ok() || absl::IsResourceExhausted(s)) << s;
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(ok.load(), 3);
  EXPECT_EQ(exhausted.load(), 9);
  EXPECT_TRUE(replicas[1]->RecordsFor(Make(100, 1000, 100).key).ok());
  int recorded = 0;
  ASSERT_TRUE(replicas[0]->ForEachSince(absl::Now() - absl::Hours(1), [&](const Record&) { ++recorded; }).ok());
  EXPECT_EQ(recorded, 3) << "a refused record is not written";
  Record unlimited = ToRecord(Make(200, 1000, 100), Verdict{});
  EXPECT_TRUE(replicas[0]->RecordSync(unlimited).ok());
}

// The budget sums the key's per-minute ledger of the last 24 h: a charge older than that no longer
// counts, every record's charge (a record without a budget too) does.
TEST(PostgresStore, TheFeeBudgetCountsTheLast24Hours) {
  std::unique_ptr<PostgresStore> store = OpenStore(NewDatabase("db"));
  const chain::U256 charge(60000ull * 1000);  // ToRecord's charge
  Record old = ToRecord(Make(1, 1000, 100), Verdict{});
  old.signed_at = absl::Now() - absl::Hours(25);
  ASSERT_TRUE(store->RecordSync(old).ok());
  ASSERT_TRUE(store->RecordSync(ToRecord(Make(2, 1000, 100), Verdict{})).ok()) << "no budget: charged all the same";
  auto with_budget = [&](uint64_t nonce) {
    Record r = ToRecord(Make(nonce, 1000, 100), Verdict{});
    r.fee_budget_24h = chain::U256(charge.Low64() * 2);
    return store->RecordSync(r);
  };
  EXPECT_TRUE(with_budget(3).ok());
  const absl::Status over = with_budget(4);
  EXPECT_TRUE(absl::IsResourceExhausted(over)) << over;
  EXPECT_THAT(std::string(over.message()), ::testing::HasSubstr("120000000 wei committed in the last 24 h"));
}

// The 24 h value budget is global like the fee budget, and counts the value of a slot's first
// signature only: a fee bump of it adds none. The refusal says which budget it was.
TEST(PostgresStore, TheValueBudgetIsSharedByReplicasAndABumpAddsNoValue) {
  const Dsn dsn = NewDatabase("db");
  std::unique_ptr<PostgresStore> replicas[2] = {OpenStore(dsn), OpenStore(dsn)};
  const chain::U256 budget(2500);
  auto with_value = [&](const Candidate& c, const Verdict& v) {
    Candidate valued = c;
    valued.value = chain::U256(1000);
    Record r = ToRecord(valued, v);
    r.value_budget_24h = budget;
    return r;
  };
  std::atomic<int> ok{0}, exhausted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      const Candidate c = Make(static_cast<uint64_t>(100 + t), 1000, 100);
      auto slot = replicas[t % 2]->Acquire(c.key);
      const absl::Status s = replicas[t % 2]->RecordSync(with_value(c, Verdict{}));
      if (s.ok()) ++ok;
      if (absl::IsResourceExhausted(s)) {
        ++exhausted;
        EXPECT_EQ(s.GetPayload(kBudgetPayload).value_or(absl::Cord()), "value_budget_24h_wei") << s;
        EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("value budget exhausted"));
      }
      EXPECT_TRUE(s.ok() || absl::IsResourceExhausted(s)) << s;
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(ok.load(), 2);
  EXPECT_EQ(exhausted.load(), 4);
  // Bump one of the two recorded slots: the same value, no extra charge, so it fits.
  std::vector<Record> recorded;
  ASSERT_TRUE(
      replicas[0]->ForEachSince(absl::Now() - absl::Hours(1), [&](const Record& r) { recorded.push_back(r); }).ok());
  ASSERT_EQ(recorded.size(), 2u);
  Verdict bump;
  bump.kind = Verdict::Kind::kFeeBump;
  bump.slot_version = 2;
  bump.replaced = recorded[0].tx_hash;
  const Candidate replacement = Make(recorded[0].key.nonce, 1100, 110);
  auto slot = replicas[1]->Acquire(replacement.key);
  EXPECT_TRUE(replicas[1]->RecordSync(with_value(replacement, bump)).ok());
}

// The rate limit's bucket is shared too: a burst of 5 is 5 requests across both replicas.
TEST(PostgresStore, TheRateLimitIsSharedByReplicas) {
  const Dsn dsn = NewDatabase("db");
  std::unique_ptr<PostgresStore> replicas[2] = {OpenStore(dsn), OpenStore(dsn)};
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      absl::StatusOr<bool> ok = replicas[t % 2]->TakeToken(store_contract::kSender, 0.001, 5);
      ASSERT_TRUE(ok.ok()) << ok.status();
      if (*ok) ++taken;
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(taken.load(), 5);
  const chain::Address other = store_contract::kTo;
  EXPECT_TRUE(*replicas[1]->TakeToken(other, 0.001, 5)) << "buckets are per key";
  EXPECT_TRUE(*replicas[0]->TakeToken(store_contract::kSender, 1000, 5)) << "a faster rate refills at once";
}

// PostgreSQL stopped and started again: meanwhile nothing can be classified or recorded
// (UNAVAILABLE: the engine signs nothing), afterwards the same stores go on with what was
// committed before.
TEST(PostgresStore, AnOutageRefusesEverythingAndLosesNothing) {
  const Dsn dsn = NewDatabase("db");
  std::unique_ptr<PostgresStore> store = OpenStore(dsn);
  ASSERT_EQ(ClassifyAndRecord(*store, Make(1, 1000, 100)).kind, Verdict::Kind::kFirst);
  platform::postgres::TestServer& server = SharedServer();
  ASSERT_TRUE(server.Stop().ok());
  {
    auto slot = store->Acquire(Make(2, 1000, 100).key);
    absl::StatusOr<Verdict> v = store->Classify(*slot, Make(2, 1000, 100));
    EXPECT_TRUE(absl::IsUnavailable(v.status())) << v.status();
    const absl::Status s = store->RecordSync(ToRecord(Make(2, 1000, 100), Verdict{}));
    EXPECT_TRUE(absl::IsUnavailable(s)) << s;
    EXPECT_TRUE(absl::IsUnavailable(store->TakeToken(store_contract::kSender, 1, 5).status()));
  }
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(ClassifyAndRecord(*store, Make(1, 1000, 100)).kind, Verdict::Kind::kRepeat);
  EXPECT_EQ(ClassifyAndRecord(*store, Make(1, 1000, 100, {0x01})).kind, Verdict::Kind::kConflict);
  EXPECT_EQ(ClassifyAndRecord(*store, Make(2, 1000, 100)).kind, Verdict::Kind::kFirst) << "nothing was written";
}

TEST(PostgresStore, StartUpErrorsAreClearAndNeverShowThePassword) {
  platform::postgres::TestServer& server = SharedServer();
  const Dsn good = NewDatabase("db");
  absl::StatusOr<std::unique_ptr<PostgresStore>> wrong =
      PostgresStore::Open(*Dsn::Parse(server.DsnText("postgres", "s3cret-wrong"), "test"));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated) << wrong.status();
  EXPECT_NE(wrong.status().message().find("anti-equivocation db: "), std::string::npos) << wrong.status();
  EXPECT_EQ(wrong.status().message().find("s3cret-wrong"), std::string::npos) << wrong.status();
  EXPECT_EQ(wrong.status().message().find(server.app_password()), std::string::npos) << wrong.status();

  std::unique_ptr<platform::postgres::Connection> conn = platform::postgres::Connect(good);
  ASSERT_TRUE(conn->Exec("ALTER DATABASE startuperrorsareclearandnevershowthepassword_db "
                         "SET synchronous_commit = off")
                  .ok());
  absl::StatusOr<std::unique_ptr<PostgresStore>> unsafe = PostgresStore::Open(good);
  EXPECT_EQ(unsafe.status().code(), absl::StatusCode::kFailedPrecondition) << unsafe.status();
  EXPECT_NE(unsafe.status().message().find("synchronous_commit"), std::string::npos) << unsafe.status();

  ASSERT_TRUE(conn->Exec("UPDATE platform_schema_versions SET version = 7 WHERE schema = 'signer_equivocation'").ok());
  absl::StatusOr<std::unique_ptr<PostgresStore>> newer = PostgresStore::Open(good);
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition) << newer.status();
  EXPECT_NE(newer.status().message().find("7"), std::string::npos) << newer.status();
}

}  // namespace

namespace store_contract {
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreContract, PostgresBackend);
}  // namespace store_contract

}  // namespace signer::equivocation
