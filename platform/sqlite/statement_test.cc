#include "platform/sqlite/statement.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/sqlite/database.h"
#include "platform/sqlite/test_path.h"

namespace platform::sqlite {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class StatementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(TestDatabasePath());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    ASSERT_TRUE(db_->Exec("CREATE TABLE t (k TEXT PRIMARY KEY, i INTEGER, b BLOB, n TEXT)").ok());
  }
  std::unique_ptr<Database> db_;
};

// In place: SQLite reads the bytes at the step (no copy); Reset clears the binding, so the next
// row binds its own.
TEST_F(StatementTest, BindBlobInPlaceReadsTheBytesWhereTheyAre) {
  std::vector<uint8_t> bytes = {1, 2, 3};
  const std::vector<uint8_t> empty;
  {
    absl::StatusOr<Statement> ins = db_->Prepare("INSERT INTO t (k, b) VALUES (?1, ?2)");
    ASSERT_TRUE(ins.ok()) << ins.status();
    ASSERT_TRUE(ins->BindText(1, "a").BindBlobInPlace(2, bytes).Run().ok());
    ins->Reset();
    bytes[0] = 9;  // after the row was written: not in it
    ASSERT_TRUE(ins->BindText(1, "b").BindBlobInPlace(2, empty).Run().ok());
  }
  absl::StatusOr<Statement> sel = db_->Prepare("SELECT b, b IS NULL FROM t ORDER BY k");
  ASSERT_TRUE(sel.ok());
  ASSERT_TRUE(*sel->Step());
  EXPECT_EQ(sel->ColumnBytes(0), (std::vector<uint8_t>{1, 2, 3}));
  ASSERT_TRUE(*sel->Step());
  EXPECT_EQ(sel->ColumnInt(1), 0) << "an empty blob, not NULL";
  EXPECT_TRUE(sel->ColumnBytes(0).empty());
}

TEST_F(StatementTest, BindsAndReadsEveryType) {
  const std::string blob("\x00\x01\xff z", 5);
  const std::vector<uint8_t> bytes = {0, 1, 2, 0xff};
  {
    absl::StatusOr<Statement> ins = db_->Prepare("INSERT INTO t (k, i, b, n) VALUES (?1, ?2, ?3, ?4)");
    ASSERT_TRUE(ins.ok()) << ins.status();
    EXPECT_TRUE(ins->BindText(1, "a").BindInt(2, -42).BindBlob(3, blob).BindNull(4).Run().ok());
    ins->Reset();
    EXPECT_TRUE(ins->BindText(1, "b")
                    .BindUint(2, std::numeric_limits<uint64_t>::max())
                    .BindBlob(3, bytes)
                    .BindText(4, "text")
                    .Run()
                    .ok());
    ins->Reset();
    EXPECT_TRUE(ins->BindText(1, "c").BindInt(2, 0).BindBlob(3, absl::string_view()).BindText(4, "").Run().ok());
    EXPECT_EQ(db_->changes(), 1);
    EXPECT_EQ(db_->last_insert_rowid(), 3);
  }
  absl::StatusOr<Statement> sel = db_->Prepare("SELECT k, i, b, n FROM t ORDER BY k");
  ASSERT_TRUE(sel.ok());
  ASSERT_TRUE(*sel->Step());
  EXPECT_EQ(sel->ColumnText(0), "a");
  EXPECT_EQ(sel->ColumnInt(1), -42);
  EXPECT_EQ(sel->ColumnBlob(2), blob);
  EXPECT_TRUE(sel->IsNull(3));
  EXPECT_EQ(sel->ColumnText(3), "");
  ASSERT_TRUE(*sel->Step());
  EXPECT_EQ(sel->ColumnUint(1), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(sel->ColumnInt(1), -1) << "the same 64 bits";
  EXPECT_EQ(sel->ColumnBytes(2), bytes);
  EXPECT_EQ(sel->ColumnText(3), "text");
  ASSERT_TRUE(*sel->Step());
  EXPECT_FALSE(sel->IsNull(2)) << "an empty blob is not NULL";
  EXPECT_TRUE(sel->ColumnBytes(2).empty());
  EXPECT_FALSE(sel->IsNull(3));
  EXPECT_FALSE(*sel->Step());
}

TEST_F(StatementTest, PrepareErrorCarriesSqlitesMessage) {
  absl::StatusOr<Statement> st = db_->Prepare("SELECT nope FROM t");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(st.status().message(), HasSubstr("no such column: nope"));
}

TEST_F(StatementTest, BindErrorIsReportedByStep) {
  absl::StatusOr<Statement> st = db_->Prepare("SELECT ?1");
  ASSERT_TRUE(st.ok());
  absl::Status s = st->BindInt(2, 1).Run();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("bind parameter 2"));
  st->Reset();
  EXPECT_TRUE(st->BindInt(1, 1).Step().ok()) << "Reset clears the error";
}

TEST_F(StatementTest, ConstraintErrorIsAlreadyExistsAndNamesNoValue) {
  const std::string secret = "0xdeadbeefsecretvalue";
  absl::StatusOr<Statement> ins = db_->Prepare("INSERT INTO t (k) VALUES (?1)");
  ASSERT_TRUE(ins.ok());
  ASSERT_TRUE(ins->BindText(1, secret).Run().ok());
  ins->Reset();
  absl::Status s = ins->BindText(1, secret).Run();
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_THAT(s.message(), HasSubstr("UNIQUE constraint failed: t.k"));
  EXPECT_THAT(s.message(), Not(HasSubstr(secret)));
}

TEST_F(StatementTest, MovedStatementStillWorks) {
  absl::StatusOr<Statement> st = db_->Prepare("SELECT 7");
  ASSERT_TRUE(st.ok());
  Statement moved = *std::move(st);
  ASSERT_TRUE(*moved.Step());
  EXPECT_EQ(moved.ColumnInt(0), 7);
}

}  // namespace
}  // namespace platform::sqlite
