#include "orchestrator/journal/sqlite_journal.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/journal/journal_contract.h"
#include "platform/sqlite/database.h"
#include "platform/sqlite/schema.h"
#include "platform/status_macros.h"

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

class SqliteStore final : public JournalStore {
 public:
  absl::StatusOr<std::unique_ptr<Journal>> Open() override {
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteJournal> j, SqliteJournal::Open(dir_.path() + "/j.sqlite"));
    return std::unique_ptr<Journal>(std::move(j));
  }

 private:
  TempDir dir_;
};

std::unique_ptr<JournalStore> NewSqliteStore() { return std::make_unique<SqliteStore>(); }

INSTANTIATE_TEST_SUITE_P(Sqlite, JournalContractTest, ::testing::Values(&NewSqliteStore));

TEST(SqliteJournalTest, TheFileIsPrivateAndLockedWhileOpen) {
  TempDir dir;
  const std::string path = dir.path() + "/j.sqlite";
  auto j = *SqliteJournal::Open(path);
  EXPECT_EQ(SqliteJournal::Open(path).status().code(), absl::StatusCode::kFailedPrecondition)
      << "a second process must not open the same journal";
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// A journal with operation "op_old", then `sql` run on its file as an older program left it,
// opened again: it must open and keep the operation.
std::unique_ptr<SqliteJournal> ReopenedAfter(const std::string& path, const char* sql) {
  EXPECT_TRUE((*SqliteJournal::Open(path))->Create(TestRecord("op_old", "r1", 1)).ok());
  {
    std::unique_ptr<platform::sqlite::Database> db = *platform::sqlite::Database::Open(path);
    EXPECT_TRUE(db->Exec(sql).ok());
  }
  absl::StatusOr<std::unique_ptr<SqliteJournal>> j = SqliteJournal::Open(path);
  EXPECT_TRUE(j.ok()) << j.status();
  if (!j.ok()) return nullptr;
  EXPECT_EQ((*j)->Get("op_old")->request_id, "r1");
  EXPECT_TRUE((*j)->Ping().ok());
  return *std::move(j);
}

TEST(SqliteJournalTest, OpensAJournalWrittenBeforeSchemaVersions) {
  TempDir dir;
  // Journals written before platform/sqlite have user_version 0.
  EXPECT_NE(ReopenedAfter(dir.path() + "/j.sqlite", "PRAGMA user_version = 0"), nullptr);
}

// A journal written by the version before owners (user_version 1, no resource_owners table)
// gains the table (version 2).
TEST(SqliteJournalTest, AJournalFromBeforeOwnersIsMigrated) {
  TempDir dir;
  const std::string path = dir.path() + "/j.sqlite";
  std::unique_ptr<SqliteJournal> j = ReopenedAfter(path, "DROP TABLE resource_owners; PRAGMA user_version = 1");
  ASSERT_NE(j, nullptr);
  EXPECT_FALSE(j->FindOwner(kResourceCvm, "x").value().has_value());
  EXPECT_TRUE(j->RecordOwner(ResourceOwner{kResourceCvm, "x", "t", "deploy:op_old", absl::Now()}).ok());
  j.reset();
  std::unique_ptr<platform::sqlite::Database> db = *platform::sqlite::Database::Open(path);
  EXPECT_EQ(*platform::sqlite::UserVersion(*db), 2);
}

TEST(SqliteJournalTest, RecordOwnersIsOneTransaction) {
  TempDir dir;
  std::unique_ptr<SqliteJournal> j = *SqliteJournal::Open(dir.path() + "/j.sqlite");
  const uint64_t before = j->commits();
  ASSERT_TRUE(j->RecordOwners({ResourceOwner{kResourceCvm, "id:1", "t", "deploy:op_1", absl::FromUnixMicros(1)},
                               ResourceOwner{kResourceCvm, "app:0xab", "t", "deploy:op_1", absl::FromUnixMicros(1)}})
                  .ok());
  EXPECT_EQ(j->commits(), before + 1);
  EXPECT_TRUE(j->FindOwner(kResourceCvm, "id:1")->has_value());
  EXPECT_TRUE(j->FindOwner(kResourceCvm, "app:0xab")->has_value());
  // Refused as a whole: the free one is not recorded either.
  EXPECT_EQ(j->RecordOwners({ResourceOwner{kResourceCvm, "id:2", "u", "deploy:op_2", absl::FromUnixMicros(2)},
                             ResourceOwner{kResourceCvm, "app:0xab", "u", "deploy:op_2", absl::FromUnixMicros(2)}})
                .code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(j->FindOwner(kResourceCvm, "id:2")->has_value());
}

TEST(SqliteJournalTest, AnUpdateWithArtifactsAndOwnersIsOneCommitAndAllOrNothing) {
  TempDir dir;
  // An artifact keyed "boom" fails its INSERT (after the record's UPDATE ran), keeping SQLite's
  // transaction open: the write's savepoint must undo the UPDATE too.
  std::unique_ptr<SqliteJournal> j =
      ReopenedAfter(dir.path() + "/j.sqlite",
                    "CREATE TRIGGER boom BEFORE INSERT ON artifacts WHEN NEW.key = 'boom' "
                    "BEGIN SELECT RAISE(ABORT, 'boom'); END");
  ASSERT_NE(j, nullptr);
  OperationRecord r = *j->Get("op_old");
  r.state = 2;
  const ResourceOwner owner{kResourceCvm, "id:1", "t", "deploy:op_old", absl::FromUnixMicros(1)};
  UpdateOptions failing;
  failing.owners = {owner};
  failing.artifacts = {{"op_old", "fine", "v"}, {"op_old", "boom", "v"}};
  EXPECT_FALSE(j->Update(r, failing).ok());
  EXPECT_EQ(j->Get("op_old")->version, r.version) << "the record's UPDATE was undone";
  EXPECT_EQ(j->Get("op_old")->state, 1);
  EXPECT_FALSE(j->GetArtifact("op_old", "fine")->has_value());
  EXPECT_FALSE(j->FindOwner(kResourceCvm, "id:1")->has_value());

  const uint64_t before = j->commits();
  UpdateOptions with;
  with.owners = {owner};
  with.artifacts = {{"op_old", "fine", "v"}};
  ASSERT_TRUE(j->Update(r, with).ok());
  EXPECT_EQ(j->commits(), before + 1) << "record, artifact and owner row in one transaction";
  EXPECT_EQ(j->Get("op_old")->state, 2);
  EXPECT_EQ(**j->GetArtifact("op_old", "fine"), "v");
  EXPECT_TRUE(j->FindOwner(kResourceCvm, "id:1")->has_value());
}

TEST(SqliteJournalTest, ASecondOpenIsRefusedNamingTheJournal) {
  TempDir dir;
  const std::string path = dir.path() + "/j.sqlite";
  auto j = *SqliteJournal::Open(path);
  absl::Status s = SqliteJournal::Open(path).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), ::testing::HasSubstr(absl::StrCat("journal: open: database ", path, " is in use")));
}

}  // namespace
}  // namespace orchestrator::journal
