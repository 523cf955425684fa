#include "platform/sqlite/transaction.h"

#include "gtest/gtest.h"
#include "platform/sqlite/test_path.h"

namespace platform::sqlite {
namespace {

int64_t Count(Database& db) {
  Statement st = *db.Prepare("SELECT count(*) FROM t");
  EXPECT_TRUE(*st.Step());
  return st.ColumnInt(0);
}

class TransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = *Database::Open(TestDatabasePath());
    ASSERT_TRUE(db_->Exec("CREATE TABLE t (v INTEGER)").ok());
  }
  std::unique_ptr<Database> db_;
};

TEST_F(TransactionTest, RollsBackUnlessCommitted) {
  {
    absl::StatusOr<Transaction> txn = Transaction::Begin(*db_);
    ASSERT_TRUE(txn.ok()) << txn.status();
    ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES (1)").ok());
    EXPECT_EQ(Count(*db_), 1);
  }
  EXPECT_EQ(Count(*db_), 0);
  {
    Transaction txn = *Transaction::Begin(*db_);
    ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES (2)").ok());
    ASSERT_TRUE(txn.Commit().ok());
    EXPECT_EQ(txn.Commit().code(), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(Count(*db_), 1);
}

TEST_F(TransactionTest, ImmediateTakesTheWriteLockAtBegin) {
  std::unique_ptr<Database> other = *db_->OpenConnection();
  ASSERT_TRUE(other->Exec("PRAGMA busy_timeout = 0").ok());
  Transaction txn = *Transaction::Begin(*db_);
  absl::StatusOr<Transaction> second = Transaction::Begin(*other);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  ASSERT_TRUE(txn.Commit().ok());
  EXPECT_TRUE(Transaction::Begin(*other).ok());
}

TEST_F(TransactionTest, MovedTransactionRollsBackOnce) {
  absl::StatusOr<Transaction> txn = Transaction::Begin(*db_);
  ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES (3)").ok());
  { Transaction moved = *std::move(txn); }
  EXPECT_EQ(Count(*db_), 0);
  EXPECT_TRUE(Transaction::Begin(*db_).ok()) << "no transaction left open";
}

}  // namespace
}  // namespace platform::sqlite
