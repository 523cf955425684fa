#include "orchestrator/journal/journal_contract.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"

namespace orchestrator::journal {

void JournalContractTest::SetUp() { store_ = GetParam()(); }

std::unique_ptr<Journal> JournalContractTest::OpenJournal() {
  absl::StatusOr<std::unique_ptr<Journal>> j = store_->Open();
  EXPECT_TRUE(j.ok()) << j.status();
  return j.ok() ? *std::move(j) : nullptr;
}

OperationRecord TestRecord(const std::string& id, const std::string& request_id, int64_t time_us, int kind, int state) {
  OperationRecord r;
  r.id = id;
  r.caller = "uid:1000";
  r.request_id = request_id;
  r.kind = kind;
  r.state = state;
  r.create_time = absl::FromUnixMicros(time_us);
  r.update_time = r.create_time;
  r.request_digest = "d-" + request_id;
  r.operation = std::string("op\0bytes", 8);
  r.internal = "internal";
  r.owner = "me";
  return r;
}

namespace {

TEST_P(JournalContractTest, CreateIsIdempotentPerCallerAndRequestId) {
  std::unique_ptr<Journal> j = OpenJournal();
  ASSERT_NE(j, nullptr);
  absl::StatusOr<CreateResult> a = j->Create(TestRecord("op_a", "r1", 1));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->created);
  EXPECT_EQ(a->record.version, 1);
  absl::StatusOr<CreateResult> b = j->Create(TestRecord("op_b", "r1", 2));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE(b->created);
  EXPECT_EQ(b->record.id, "op_a");
  EXPECT_EQ(b->record.operation, std::string("op\0bytes", 8));
  OperationRecord other = TestRecord("op_c", "r1", 3);
  other.caller = "uid:1001";
  EXPECT_TRUE(j->Create(other)->created) << "request ids are scoped to the caller";
  EXPECT_EQ(j->Create(TestRecord("op_a", "r2", 4)).status().code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<std::optional<OperationRecord>> f = j->FindByRequestId("uid:1000", "r1");
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->id, "op_a");
  EXPECT_FALSE((*j->FindByRequestId("uid:1000", "nope")).has_value());
}

TEST_P(JournalContractTest, ConcurrentCreatesOfOneRequestCreateOnce) {
  std::unique_ptr<Journal> j = OpenJournal();
  ASSERT_NE(j, nullptr);
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      absl::StatusOr<CreateResult> r = j->Create(TestRecord(absl::StrCat("op_", t), "same", t));
      ASSERT_TRUE(r.ok()) << r.status();
      if (r->created) ++created;
      EXPECT_EQ(r->record.request_id, "same");
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(j->ListUnfinished()->size(), 1u);
}

TEST_P(JournalContractTest, UpdateUsesVersions) {
  std::unique_ptr<Journal> j = OpenJournal();
  ASSERT_NE(j, nullptr);
  OperationRecord r = j->Create(TestRecord("op_a", "r1", 1))->record;
  r.state = 2;
  r.internal = "v2";
  absl::StatusOr<int64_t> v = j->Update(r);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 2);
  EXPECT_EQ(j->Update(r).status().code(), absl::StatusCode::kAborted) << "stale version";
  r.version = *v;
  r.id = "op_missing";
  EXPECT_EQ(j->Update(r).status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<OperationRecord> got = j->Get("op_a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, 2);
  EXPECT_EQ(got->internal, "v2");
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->owner, "me");
  EXPECT_EQ(j->Get("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(JournalContractTest, ListFiltersAndPagesNewestFirst) {
  std::unique_ptr<Journal> j = OpenJournal();
  ASSERT_NE(j, nullptr);
  for (int i = 0; i < 7; ++i) {
    OperationRecord r = TestRecord(absl::StrCat("op_", i), absl::StrCat("r", i), 100 + i / 2, 1 + i % 2, i < 3 ? 4 : 2);
    r.cvm_id = i == 5 ? "cvm-5" : "";
    ASSERT_TRUE(j->Create(r).ok());
  }
  ListQuery q;
  q.limit = 3;
  std::vector<std::string> ids;
  for (;;) {
    auto page = j->List(q);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& r : *page) ids.push_back(r.id);
    if (page->size() < q.limit) break;
    q.after = ListCursor{page->back().create_time, page->back().id};
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"op_6", "op_5", "op_4", "op_3", "op_2", "op_1", "op_0"}));
  ListQuery k;
  k.kind = 2;
  EXPECT_EQ(j->List(k)->size(), 3u);
  ListQuery s;
  s.state = 4;
  EXPECT_EQ(j->List(s)->size(), 3u);
  ListQuery c;
  c.cvm_id = "cvm-5";
  ASSERT_EQ(j->List(c)->size(), 1u);
  auto unfinished = j->ListUnfinished();
  ASSERT_TRUE(unfinished.ok());
  ASSERT_EQ(unfinished->size(), 4u);
  EXPECT_EQ((*unfinished)[0].id, "op_3");
}

// A tenant lists only the operations of its callers (access policy), paged.
TEST_P(JournalContractTest, ListFiltersByCallers) {
  std::unique_ptr<Journal> j = OpenJournal();
  ASSERT_NE(j, nullptr);
  const char* callers[] = {"token:a", "token:b", "uid:7", "token:a"};
  for (int i = 0; i < 4; ++i) {
    OperationRecord r = TestRecord(absl::StrCat("op_", i), "r", 100 + i, 1, 2);
    r.caller = callers[i];
    r.request_id = absl::StrCat("r", i);
    ASSERT_TRUE(j->Create(r).ok());
  }
  auto ids = [&](ListQuery q) {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<OperationRecord>> page = j->List(q);
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) {
      for (const OperationRecord& r : *page) out.push_back(r.id);
    }
    return out;
  };
  ListQuery a;
  a.callers = std::vector<std::string>{"token:a"};
  EXPECT_EQ(ids(a), (std::vector<std::string>{"op_3", "op_0"}));
  a.callers->push_back("uid:7");
  EXPECT_EQ(ids(a), (std::vector<std::string>{"op_3", "op_2", "op_0"}));
  a.limit = 1;
  a.after = ListCursor{absl::FromUnixMicros(103), "op_3"};
  EXPECT_EQ(ids(a), (std::vector<std::string>{"op_2"}));
  ListQuery none;
  none.callers = std::vector<std::string>{};
  EXPECT_TRUE(ids(none).empty()) << "an empty list of callers matches nothing";
  ListQuery odd;
  odd.callers = std::vector<std::string>{"token:a,token:b", "'); DROP TABLE operations; --"};
  EXPECT_TRUE(ids(odd).empty());
  EXPECT_EQ(ids(ListQuery{}).size(), 4u);
}

TEST_P(JournalContractTest, ArtifactsSurviveAReopen) {
  {
    std::unique_ptr<Journal> j = OpenJournal();
    ASSERT_NE(j, nullptr);
    ASSERT_TRUE(j->Create(TestRecord("op_a", "r1", 1)).ok());
    ASSERT_TRUE(j->PutArtifact("op_a", "deploy/tx", "v1").ok());
    ASSERT_TRUE(j->PutArtifact("op_a", "deploy/tx", std::string("v2\0", 3)).ok());
    ASSERT_TRUE(j->PutArtifact("op_a", "deploy/intent/0", "i0").ok());
    ASSERT_TRUE(j->PutArtifact("op_a", "other", "x").ok());
  }
  std::unique_ptr<Journal> j = OpenJournal();
  ASSERT_NE(j, nullptr);
  EXPECT_TRUE(j->Ping().ok());
  EXPECT_EQ(**j->GetArtifact("op_a", "deploy/tx"), std::string("v2\0", 3));
  EXPECT_FALSE((*j->GetArtifact("op_a", "nope")).has_value());
  auto list = j->ListArtifacts("op_a", "deploy/");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->size(), 2u);
  EXPECT_EQ(list->at("deploy/intent/0"), "i0");
  EXPECT_EQ(j->ListArtifacts("op_a", "")->size(), 3u);
  EXPECT_EQ(j->Get("op_a")->request_id, "r1");
}

TEST_P(JournalContractTest, PutArtifactsPutsEachAsPutArtifactWould) {
  std::unique_ptr<Journal> j = OpenJournal();
  ASSERT_NE(j, nullptr);
  ASSERT_TRUE(j->Create(TestRecord("op_a", "r1", 1)).ok());
  ASSERT_TRUE(j->Create(TestRecord("op_b", "r2", 1)).ok());
  ASSERT_TRUE(j->PutArtifact("op_a", "k1", "old").ok());
  ASSERT_TRUE(j->PutArtifacts({}).ok());
  ASSERT_TRUE(
      j->PutArtifacts({{"op_a", "k1", "new"}, {"op_a", "k2", std::string("v\0", 2)}, {"op_b", "k1", "b"}}).ok());
  EXPECT_EQ(**j->GetArtifact("op_a", "k1"), "new");
  EXPECT_EQ(**j->GetArtifact("op_a", "k2"), std::string("v\0", 2));
  EXPECT_EQ(**j->GetArtifact("op_b", "k1"), "b");
  EXPECT_EQ(j->ListArtifacts("op_a", "")->size(), 2u);
}

TEST_P(JournalContractTest, ConcurrentWriters) {
  std::unique_ptr<Journal> j = OpenJournal();
  ASSERT_NE(j, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string id = absl::StrCat("op_", t, "_", i);
        OperationRecord r = j->Create(TestRecord(id, id, i))->record;
        r.state = 2;
        EXPECT_TRUE(j->Update(r).ok());
        EXPECT_TRUE(j->PutArtifact(id, "k", "v").ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(j->ListUnfinished()->size(), 40u);
}

ResourceOwner Owner(const std::string& kind, const std::string& resource, const std::string& tenant,
                    const std::string& source, int64_t time_us) {
  return ResourceOwner{kind, resource, tenant, source, absl::FromUnixMicros(time_us)};
}

void ExpectOwner(Journal& j, const std::string& kind, const std::string& resource, const std::string& tenant,
                 const std::string& source, int64_t time_us) {
  absl::StatusOr<std::optional<ResourceOwner>> got = j.FindOwner(kind, resource);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value()) << kind << " " << resource;
  EXPECT_EQ((*got)->kind, kind);
  EXPECT_EQ((*got)->resource, resource);
  EXPECT_EQ((*got)->tenant, tenant);
  EXPECT_EQ((*got)->source, source);
  EXPECT_EQ((*got)->created_at, absl::FromUnixMicros(time_us));
}

TEST_P(JournalContractTest, RecordOwnerIsIdempotentForItsTenantAndRefusesAnother) {
  std::unique_ptr<Journal> j = OpenJournal();
  ASSERT_NE(j, nullptr);
  EXPECT_FALSE(j->FindOwner(kResourceCvm, "abc").value().has_value());
  ASSERT_TRUE(j->RecordOwner(Owner(kResourceCvm, "abc", "team-a", "deploy:op_1", 10)).ok());
  // A resumed deploy records again: OK, the first record stays.
  EXPECT_TRUE(j->RecordOwner(Owner(kResourceCvm, "abc", "team-a", "deploy:op_1", 20)).ok());
  absl::Status other = j->RecordOwner(Owner(kResourceCvm, "abc", "team-b", "deploy:op_2", 30));
  EXPECT_EQ(other.code(), absl::StatusCode::kAlreadyExists) << other;
  EXPECT_THAT(other.message(), ::testing::HasSubstr("cvm abc is owned by another tenant"));
  EXPECT_THAT(other.message(), ::testing::Not(::testing::HasSubstr("team-a")));
  ExpectOwner(*j, kResourceCvm, "abc", "team-a", "deploy:op_1", 10);
  // The kind is part of the key.
  ASSERT_TRUE(j->RecordOwner(Owner(kResourceApp, "abc", "team-b", "deploy:op_2", 40)).ok());
  ExpectOwner(*j, kResourceApp, "abc", "team-b", "deploy:op_2", 40);
  ExpectOwner(*j, kResourceCvm, "abc", "team-a", "deploy:op_1", 10);
}

TEST_P(JournalContractTest, RecordOwnersRecordsEachAsRecordOwnerWould) {
  std::unique_ptr<Journal> j = OpenJournal();
  ASSERT_NE(j, nullptr);
  EXPECT_TRUE(j->RecordOwners({}).ok());
  const std::vector<ResourceOwner> both = {Owner(kResourceCvm, "id:1", "team-a", "deploy:op_1", 10),
                                           Owner(kResourceCvm, "app:0xab", "team-a", "deploy:op_1", 10)};
  ASSERT_TRUE(j->RecordOwners(both).ok());
  ExpectOwner(*j, kResourceCvm, "id:1", "team-a", "deploy:op_1", 10);
  ExpectOwner(*j, kResourceCvm, "app:0xab", "team-a", "deploy:op_1", 10);
  // A resumed deploy records them again: OK, the first records stay.
  EXPECT_TRUE(j->RecordOwners({Owner(kResourceCvm, "id:1", "team-a", "deploy:op_1", 20),
                               Owner(kResourceCvm, "app:0xab", "team-a", "deploy:op_1", 20)})
                  .ok());
  ExpectOwner(*j, kResourceCvm, "app:0xab", "team-a", "deploy:op_1", 10);
  // One owned by another tenant: refused, naming it; its owner stays.
  absl::Status other = j->RecordOwners({Owner(kResourceCvm, "id:2", "team-b", "deploy:op_2", 30),
                                        Owner(kResourceCvm, "app:0xab", "team-b", "deploy:op_2", 30)});
  EXPECT_EQ(other.code(), absl::StatusCode::kAlreadyExists) << other;
  EXPECT_THAT(other.message(), ::testing::HasSubstr("cvm app:0xab is owned by another tenant"));
  ExpectOwner(*j, kResourceCvm, "app:0xab", "team-a", "deploy:op_1", 10);
}

TEST_P(JournalContractTest, UpdateWritesItsArtifactsAndOwnerRowsWithTheRecord) {
  {
    std::unique_ptr<Journal> j = OpenJournal();
    ASSERT_NE(j, nullptr);
    OperationRecord r = j->Create(TestRecord("op_a", "r1", 1))->record;
    ASSERT_TRUE(j->PutArtifact("op_a", "step/tx", "old").ok());
    ASSERT_TRUE(j->RecordOwner(Owner(kResourceCvm, "id:9", "team-b", "adopt:uid:0", 5)).ok());
    r.state = 2;
    UpdateOptions with;
    with.artifacts = {{"op_a", "step/tx", std::string("new\0", 4)}, {"op_a", "step/other", "x"}};
    // An owner row already there (another tenant's, adopted meanwhile) is kept, not refused.
    with.owners = {Owner(kResourceCvm, "id:1", "team-a", "deploy:op_a", 10),
                   Owner(kResourceCvm, "id:9", "team-a", "deploy:op_a", 10)};
    absl::StatusOr<int64_t> v = j->Update(r, with);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, 2);
    // A stale version writes none of it.
    UpdateOptions stale;
    stale.artifacts = {{"op_a", "step/tx", "stale"}, {"op_a", "step/third", "stale"}};
    stale.owners = {Owner(kResourceCvm, "id:2", "team-a", "deploy:op_a", 11)};
    EXPECT_EQ(j->Update(r, stale).status().code(), absl::StatusCode::kAborted);
    UpdateOptions foreign;
    foreign.artifacts = {{"op_b", "step/tx", "x"}};
    absl::Status refused = j->Update(r, foreign).status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
    EXPECT_THAT(refused.message(), ::testing::HasSubstr("carries artifact step/tx of operation op_b"));
  }
  std::unique_ptr<Journal> j = OpenJournal();  // durable: seen after a reopen
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->Get("op_a")->state, 2);
  EXPECT_EQ(**j->GetArtifact("op_a", "step/tx"), std::string("new\0", 4));
  EXPECT_EQ(**j->GetArtifact("op_a", "step/other"), "x");
  EXPECT_FALSE(j->GetArtifact("op_a", "step/third")->has_value()) << "from the refused update";
  ExpectOwner(*j, kResourceCvm, "id:1", "team-a", "deploy:op_a", 10);
  ExpectOwner(*j, kResourceCvm, "id:9", "team-b", "adopt:uid:0", 5);
  EXPECT_FALSE(j->FindOwner(kResourceCvm, "id:2")->has_value()) << "from the refused update";
}

TEST_P(JournalContractTest, AdoptSetsOrReplacesTheOwnerAndSurvivesAReopen) {
  {
    std::unique_ptr<Journal> j = OpenJournal();
    ASSERT_NE(j, nullptr);
    absl::StatusOr<AdoptResult> first = j->AdoptResource(Owner(kResourceApp, "1:0xab", "team-a", "adopt:uid:0", 5));
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_FALSE(first->previous.has_value());
    EXPECT_EQ(first->owner.tenant, "team-a");
    absl::StatusOr<AdoptResult> moved = j->AdoptResource(Owner(kResourceApp, "1:0xab", "team-b", "adopt:uid:0", 6));
    ASSERT_TRUE(moved.ok()) << moved.status();
    ASSERT_TRUE(moved->previous.has_value());
    EXPECT_EQ(moved->previous->tenant, "team-a");
    EXPECT_EQ(moved->previous->source, "adopt:uid:0");
    EXPECT_EQ(moved->previous->created_at, absl::FromUnixMicros(5));
    EXPECT_EQ(moved->owner.tenant, "team-b");
    // A deploy of the old tenant cannot take it back; the new one records again.
    EXPECT_EQ(j->RecordOwner(Owner(kResourceApp, "1:0xab", "team-a", "deploy:op_1", 7)).code(),
              absl::StatusCode::kAlreadyExists);
    EXPECT_TRUE(j->RecordOwner(Owner(kResourceApp, "1:0xab", "team-b", "deploy:op_1", 7)).ok());
  }
  std::unique_ptr<Journal> j = OpenJournal();
  ASSERT_NE(j, nullptr);
  ExpectOwner(*j, kResourceApp, "1:0xab", "team-b", "adopt:uid:0", 6);
}

TEST_P(JournalContractTest, ConcurrentRecordsOfOneResourceHaveOneWinner) {
  std::unique_ptr<Journal> j = OpenJournal();
  ASSERT_NE(j, nullptr);
  std::atomic<int> won{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      absl::Status s = j->RecordOwner(Owner(kResourceCvm, "race", absl::StrCat("team-", t), "deploy:op", t));
      if (s.ok()) ++won;
      if (absl::IsAlreadyExists(s)) ++refused;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(refused.load(), 7);
}

// The ownership calls on one replica, which owns everything it creates (both backends: SQLite
// answers them as the one process, PostgreSQL with its replica row).
TEST_P(JournalContractTest, OwnershipCallsOnOneReplica) {
  std::unique_ptr<Journal> j = OpenJournal();
  ASSERT_NE(j, nullptr);
  ASSERT_TRUE(j->Register(ReplicaLease{"me", "boot-1", absl::Seconds(30)}).ok());
  ASSERT_TRUE(j->Heartbeat().ok());
  const OperationRecord created = j->Create(TestRecord("op_a", "r1", 1))->record;
  EXPECT_EQ(created.owner, "me");
  absl::StatusOr<std::optional<OperationRecord>> claimed = j->ClaimOne("op_a", {1, 2});
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_TRUE(claimed->has_value()) << "its own operation";
  EXPECT_GE((*claimed)->lease_epoch, created.lease_epoch);
  OperationRecord r = **claimed;
  r.state = 2;
  absl::StatusOr<int64_t> v = j->Update(r);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(j->PutArtifact("op_a", "k", "v").ok());
  EXPECT_FALSE(j->ClaimOne("op_a", {3})->has_value()) << "not in that state";
  EXPECT_EQ(j->ClaimOne("op_nope", {1}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(*j->RequestCancel("op_a")) << "open and reversible";
  EXPECT_EQ(j->RequestCancel("op_nope").status().code(), absl::StatusCode::kNotFound);
  r.version = *v;
  r.state = 6;
  ASSERT_TRUE(j->Update(r).ok());
  EXPECT_FALSE(*j->RequestCancel("op_a")) << "finished";
  const OperationRecord b = j->Create(TestRecord("op_b", "r2", 2))->record;
  EXPECT_TRUE(j->Release(b).ok());
  EXPECT_TRUE(j->Claim(10).ok());
  EXPECT_TRUE(j->CancelsRequested().ok());
  EXPECT_TRUE(j->ReleaseAll().ok());
}

}  // namespace
}  // namespace orchestrator::journal
