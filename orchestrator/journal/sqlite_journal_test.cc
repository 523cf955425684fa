#include "orchestrator/journal/sqlite_journal.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/sqlite/database.h"

namespace orchestrator::journal {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = absl::StrCat(::testing::TempDir(), "/journalXXXXXX");
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { (void)::system(absl::StrCat("rm -rf '", path_, "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

OperationRecord Rec(const std::string& id, const std::string& request_id, int64_t t, int kind = 1, int state = 1) {
  OperationRecord r;
  r.id = id;
  r.caller = "uid:1000";
  r.request_id = request_id;
  r.kind = kind;
  r.state = state;
  r.create_time = absl::FromUnixMicros(t);
  r.update_time = r.create_time;
  r.request_digest = "d-" + request_id;
  r.operation = std::string("op\0bytes", 8);
  r.internal = "internal";
  r.owner = "me";
  return r;
}

TEST(SqliteJournalTest, CreateIsIdempotentPerCallerAndRequestId) {
  TempDir dir;
  auto j = SqliteJournal::Open(dir.path() + "/j.sqlite");
  ASSERT_TRUE(j.ok()) << j.status();
  absl::StatusOr<CreateResult> a = (*j)->Create(Rec("op_a", "r1", 1));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->created);
  EXPECT_EQ(a->record.version, 1);
  absl::StatusOr<CreateResult> b = (*j)->Create(Rec("op_b", "r1", 2));
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->created);
  EXPECT_EQ(b->record.id, "op_a");
  EXPECT_EQ(b->record.operation, std::string("op\0bytes", 8));
  OperationRecord other = Rec("op_c", "r1", 3);
  other.caller = "uid:1001";
  EXPECT_TRUE((*j)->Create(other)->created) << "request ids are scoped to the caller";
  EXPECT_EQ((*j)->Create(Rec("op_a", "r2", 4)).status().code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<std::optional<OperationRecord>> f = (*j)->FindByRequestId("uid:1000", "r1");
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->id, "op_a");
  EXPECT_FALSE((*(*j)->FindByRequestId("uid:1000", "nope")).has_value());
}

TEST(SqliteJournalTest, UpdateUsesVersions) {
  TempDir dir;
  auto j = *SqliteJournal::Open(dir.path() + "/j.sqlite");
  OperationRecord r = j->Create(Rec("op_a", "r1", 1))->record;
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
  EXPECT_EQ(j->Get("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST(SqliteJournalTest, ListFiltersAndPagesNewestFirst) {
  TempDir dir;
  auto j = *SqliteJournal::Open(dir.path() + "/j.sqlite");
  for (int i = 0; i < 7; ++i) {
    OperationRecord r = Rec(absl::StrCat("op_", i), absl::StrCat("r", i), 100 + i / 2, 1 + i % 2, i < 3 ? 4 : 2);
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

TEST(SqliteJournalTest, ArtifactsAndReopen) {
  TempDir dir;
  const std::string path = dir.path() + "/j.sqlite";
  {
    auto j = *SqliteJournal::Open(path);
    ASSERT_TRUE(j->Create(Rec("op_a", "r1", 1)).ok());
    ASSERT_TRUE(j->PutArtifact("op_a", "deploy/tx", "v1").ok());
    ASSERT_TRUE(j->PutArtifact("op_a", "deploy/tx", "v2").ok());
    ASSERT_TRUE(j->PutArtifact("op_a", "deploy/intent/0", "i0").ok());
    ASSERT_TRUE(j->PutArtifact("op_a", "other", "x").ok());
    EXPECT_EQ(SqliteJournal::Open(path).status().code(), absl::StatusCode::kFailedPrecondition)
        << "a second process must not open the same journal";
  }
  auto j = SqliteJournal::Open(path);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_TRUE((*j)->Ping().ok());
  EXPECT_EQ(**(*j)->GetArtifact("op_a", "deploy/tx"), "v2");
  EXPECT_FALSE((*(*j)->GetArtifact("op_a", "nope")).has_value());
  auto list = (*j)->ListArtifacts("op_a", "deploy/");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
  EXPECT_EQ(list->at("deploy/intent/0"), "i0");
  EXPECT_EQ((*j)->ListArtifacts("op_a", "")->size(), 3u);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(SqliteJournalTest, OpensAJournalWrittenBeforeSchemaVersions) {
  TempDir dir;
  const std::string path = dir.path() + "/j.sqlite";
  ASSERT_TRUE((*SqliteJournal::Open(path))->Create(Rec("op_old", "r1", 1)).ok());
  {
    // Journals written before platform/sqlite have user_version 0.
    std::unique_ptr<platform::sqlite::Database> db = *platform::sqlite::Database::Open(path);
    ASSERT_TRUE(db->Exec("PRAGMA user_version = 0").ok());
  }
  auto j = SqliteJournal::Open(path);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)->Get("op_old")->request_id, "r1");
  EXPECT_TRUE((*j)->Ping().ok());
}

TEST(SqliteJournalTest, ASecondOpenIsRefusedNamingTheJournal) {
  TempDir dir;
  const std::string path = dir.path() + "/j.sqlite";
  auto j = *SqliteJournal::Open(path);
  absl::Status s = SqliteJournal::Open(path).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), ::testing::HasSubstr(absl::StrCat("journal: open: database ", path, " is in use")));
}

TEST(SqliteJournalTest, ConcurrentWriters) {
  TempDir dir;
  auto j = *SqliteJournal::Open(dir.path() + "/j.sqlite");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string id = absl::StrCat("op_", t, "_", i);
        OperationRecord r = j->Create(Rec(id, id, i))->record;
        r.state = 2;
        EXPECT_TRUE(j->Update(r).ok());
        EXPECT_TRUE(j->PutArtifact(id, "k", "v").ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(j->ListUnfinished()->size(), 40u);
}

}  // namespace
}  // namespace orchestrator::journal
