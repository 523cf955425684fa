#include "platform/sqlite/database.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/sqlite/test_path.h"

namespace platform::sqlite {
namespace {

using ::testing::HasSubstr;

std::string PragmaText(Database& db, const char* pragma) {
  Statement st = *db.Prepare(absl::StrCat("PRAGMA ", pragma));
  EXPECT_TRUE(*st.Step());
  return st.ColumnText(0);
}

// Runs Database::Open(path) in a child process; returns "<code>:<message>" of the result.
std::string OpenInAnotherProcess(const std::string& path) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
    const std::string out = absl::StrCat(static_cast<int>(db.status().code()), ":", db.status().message());
    (void)!::write(fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof(buf))) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

TEST(DatabaseTest, OpensWalFullWithAPrivateFile) {
  const std::string path = TestDatabasePath();
  std::unique_ptr<Database> db = *Database::Open(path);
  EXPECT_EQ(PragmaText(*db, "journal_mode"), "wal");
  EXPECT_EQ(PragmaText(*db, "synchronous"), "2") << "FULL";
  EXPECT_EQ(PragmaText(*db, "foreign_keys"), "0");
  EXPECT_EQ(PragmaText(*db, "busy_timeout"), "5000");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((path + ".lock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(DatabaseTest, OptionsReachThePragmas) {
  OpenOptions options;
  options.synchronous = Synchronous::kNormal;
  options.foreign_keys = true;
  options.busy_timeout = absl::Milliseconds(250);
  std::unique_ptr<Database> db = *Database::Open(TestDatabasePath(), options);
  EXPECT_EQ(PragmaText(*db, "synchronous"), "1") << "NORMAL";
  EXPECT_EQ(PragmaText(*db, "foreign_keys"), "1");
  EXPECT_EQ(PragmaText(*db, "busy_timeout"), "250");
  std::unique_ptr<Database> second = *db->OpenConnection();
  EXPECT_EQ(PragmaText(*second, "foreign_keys"), "1") << "a second connection has the same options";
}

TEST(DatabaseTest, AnotherProcessIsRefusedWithThePath) {
  const std::string path = TestDatabasePath();
  std::unique_ptr<Database> db = *Database::Open(path);
  const std::string result = OpenInAnotherProcess(path);
  EXPECT_THAT(result, HasSubstr(absl::StrCat(static_cast<int>(absl::StatusCode::kFailedPrecondition), ":")));
  EXPECT_THAT(result, HasSubstr(absl::StrCat("database ", path, " is in use by another process")));
  EXPECT_THAT(result, HasSubstr(absl::StrCat("by pid ", ::getpid())));
  db.reset();
  EXPECT_EQ(OpenInAnotherProcess(path), "0:") << "free once the holder closes it";
}

TEST(DatabaseTest, ASecondOpenInThisProcessIsRefusedButConnectionsShareTheLock) {
  const std::string path = TestDatabasePath();
  std::unique_ptr<Database> db = *Database::Open(path);
  EXPECT_EQ(Database::Open(path).status().code(), absl::StatusCode::kFailedPrecondition);
  std::unique_ptr<Database> reader = *db->OpenConnection();
  ASSERT_TRUE(db->Exec("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (5);").ok());
  {
    Statement st = *reader->Prepare("SELECT v FROM t");
    ASSERT_TRUE(*st.Step());
    EXPECT_EQ(st.ColumnInt(0), 5);
  }
  db.reset();
  EXPECT_EQ(Database::Open(path).status().code(), absl::StatusCode::kFailedPrecondition)
      << "the reader still holds the lock";
  reader.reset();
  EXPECT_TRUE(Database::Open(path).ok());
}

TEST(DatabaseTest, ACrashedHoldersLockIsReleased) {
  const std::string path = TestDatabasePath();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t holder = ::fork();
  if (holder == 0) {
    absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
    (void)!::write(ready[1], db.ok() ? "y" : "n", 1);
    for (;;) ::pause();
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  EXPECT_EQ(Database::Open(path).status().code(), absl::StatusCode::kFailedPrecondition);
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
  EXPECT_TRUE(db.ok()) << db.status();
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(DatabaseTest, AStatementMayOutliveItsDatabaseObject) {
  std::unique_ptr<Database> db = *Database::Open(TestDatabasePath());
  Statement st = *db->Prepare("SELECT 1");
  db.reset();  // the connection closes once the statement is finalized (no leak under ASan)
  ASSERT_TRUE(*st.Step());
  EXPECT_EQ(st.ColumnInt(0), 1);
}

TEST(DatabaseTest, ExecErrorNamesThePathAndSqlitesMessage) {
  const std::string path = TestDatabasePath();
  std::unique_ptr<Database> db = *Database::Open(path);
  absl::Status s = db->Exec("SELEKT 1");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr(path));
  EXPECT_THAT(s.message(), HasSubstr("syntax error"));
}

TEST(DatabaseTest, MissingDirectoryAndEmptyPathFail) {
  EXPECT_EQ(Database::Open("").status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(TestDatabasePath() + ".d/none/x.sqlite");
  EXPECT_EQ(db.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
TEST(DatabaseTest, CachedStatementIsParsedOnceAndResetAfterEachUse) {
  std::unique_ptr<Database> db = *Database::Open(TestDatabasePath());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2);").ok());
  constexpr char kSql[] = "SELECT v, ?1 FROM t ORDER BY v";
  const Statement* first = nullptr;
  {
    absl::StatusOr<CachedStatement> st = db->PrepareCached(kSql);
    ASSERT_TRUE(st.ok()) << st.status();
    first = &**st;
    (*st)->BindInt(1, 7);
    ASSERT_TRUE(*(*st)->Step());
    EXPECT_EQ((*st)->ColumnInt(1), 7);
  }  // dropped after one row of two
  absl::StatusOr<CachedStatement> again = db->PrepareCached(kSql);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(&**again, first) << "the same statement, not parsed again";
  ASSERT_TRUE(*(*again)->Step());
  EXPECT_EQ((*again)->ColumnInt(0), 1) << "reset: the first row again";
  EXPECT_TRUE((*again)->IsNull(1)) << "reset: the binding cleared";
  EXPECT_FALSE(db->PrepareCached("SELECT nope FROM t").ok());
}

}  // namespace platform::sqlite
