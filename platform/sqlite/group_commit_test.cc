#include "platform/sqlite/group_commit.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "platform/sqlite/test_path.h"

namespace platform::sqlite {
namespace {

int64_t Count(Database& db, const std::string& sql) {
  Statement st = *db.Prepare(sql);
  EXPECT_TRUE(*st.Step());
  return st.ColumnInt(0);
}

absl::Status Insert(Database& db, int k) {
  absl::StatusOr<Statement> st = db.Prepare("INSERT INTO t (k) VALUES (?1)");
  if (!st.ok()) return st.status();
  st->BindInt(1, k);
  return st->Run();
}

TEST(GroupCommitTest, ConcurrentWritesShareCommitsAndAreVisibleToAnotherConnectionOnReturn) {
  std::unique_ptr<Database> db = *Database::Open(TestDatabasePath());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY)").ok());
  std::unique_ptr<Database> reader = *db->OpenConnection();
  absl::Mutex db_mu;
  GroupCommit writes(*db, db_mu);
  // A first write holds the commit open until the others have queued behind it.
  absl::Notification queued;
  std::thread first([&] {
    EXPECT_TRUE(writes
                    .Write([&] {
                      queued.WaitForNotification();
                      return Insert(*db, 0);
                    })
                    .ok());
  });
  constexpr int kWriters = 16;
  std::vector<std::thread> threads;
  std::atomic<int> started{0};
  for (int i = 1; i <= kWriters; ++i) {
    threads.emplace_back([&, i] {
      ++started;
      ASSERT_TRUE(writes.Write([&] { return Insert(*db, i); }).ok());
      // Durable on return: committed, so another connection sees it.
      EXPECT_EQ(Count(*reader, absl::StrCat("SELECT count(*) FROM t WHERE k = ", i)), 1);
    });
  }
  while (started.load() < kWriters) std::this_thread::yield();
  absl::SleepFor(absl::Milliseconds(100));  // let them queue
  queued.Notify();
  first.join();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(Count(*reader, "SELECT count(*) FROM t"), kWriters + 1);
  EXPECT_LT(writes.commits(), static_cast<uint64_t>(kWriters + 1)) << "some writes shared a commit";
  EXPECT_GE(writes.commits(), 2u);
}

// A first write (k = 1) holding its commit open until Release, so the writes queued meanwhile
// (in the order they queued) share the next batch.
class HeldFirstWrite {
 public:
  HeldFirstWrite(GroupCommit& writes, Database& db)
      : thread_([this, &writes, &db] {
          EXPECT_TRUE(writes
                          .Write([&] {
                            release_.WaitForNotification();
                            return Insert(db, 1);
                          })
                          .ok());
        }) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  void Release() {
    absl::SleepFor(absl::Milliseconds(100));  // let the others queue
    release_.Notify();
    thread_.join();
  }

 private:
  absl::Notification release_;
  std::thread thread_;
};

// Writes `k` on its own thread once started.
class Writer {
 public:
  Writer(GroupCommit& writes, Database& db, int k)
      : thread_([&writes, &db, k, this] {
          status_ = writes.Write([&db, k] { return Insert(db, k); });
          done_.Notify();
        }) {}
  ~Writer() { thread_.join(); }
  bool Done(absl::Duration within) { return done_.WaitForNotificationWithTimeout(within); }
  absl::Status status() const { return status_; }

 private:
  absl::Status status_;
  absl::Notification done_;
  std::thread thread_;
};

void WaitQueued(const GroupCommit& writes, size_t n) {
  while (writes.queued() < n) absl::SleepFor(absl::Milliseconds(1));
}

TEST(GroupCommitTest, AfterABatchOfSeveralTheNextLeaderGathersAsManyWrites) {
  std::unique_ptr<Database> db = *Database::Open(TestDatabasePath());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY)").ok());
  absl::Mutex db_mu;
  GroupCommit writes(*db, db_mu, {.gather = absl::Hours(1)});
  {
    // A batch of two: both queue while the owner holds the connection's mutex.
    absl::ReleasableMutexLock held(&db_mu);
    Writer first(writes, *db, 1);
    while (writes.queued() != 0) absl::SleepFor(absl::Milliseconds(1));  // it leads, waiting for db_mu
    Writer second(writes, *db, 2);
    Writer third(writes, *db, 3);
    WaitQueued(writes, 2);
    held.Release();
  }
  ASSERT_EQ(writes.commits(), 2u) << "the first alone, then the two queued behind it";
  // The next leader waits for a second write instead of committing alone.
  Writer fourth(writes, *db, 4);
  while (writes.queued() == 0 && !fourth.Done(absl::Milliseconds(1))) {
  }
  ASSERT_FALSE(fourth.Done(absl::Milliseconds(50))) << "committed alone";
  Writer fifth(writes, *db, 5);
  ASSERT_TRUE(fourth.Done(absl::Seconds(30)));
  ASSERT_TRUE(fifth.Done(absl::Seconds(30)));
  EXPECT_TRUE(fourth.status().ok() && fifth.status().ok());
  EXPECT_EQ(writes.commits(), 3u) << "one commit for both";
  EXPECT_EQ(Count(*db, "SELECT count(*) FROM t"), 5);
}

TEST(GroupCommitTest, ALoneWriterNeverGathers) {
  std::unique_ptr<Database> db = *Database::Open(TestDatabasePath());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY)").ok());
  absl::Mutex db_mu;
  GroupCommit writes(*db, db_mu, {.gather = absl::Hours(1)});
  for (int k = 1; k <= 5; ++k) {
    Writer w(writes, *db, k);
    ASSERT_TRUE(w.Done(absl::Seconds(30))) << "write " << k << " waited for company";
    EXPECT_TRUE(w.status().ok());
  }
  EXPECT_EQ(writes.commits(), 5u);
}

TEST(GroupCommitTest, AFailedWriteLeavesNothingAndTheOthersOfItsBatchCommit) {
  std::unique_ptr<Database> db = *Database::Open(TestDatabasePath());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY); INSERT INTO t VALUES (5)").ok());
  absl::Mutex db_mu;
  GroupCommit writes(*db, db_mu);
  HeldFirstWrite first(writes, *db);
  absl::Status dup;
  std::thread second([&] { dup = writes.Write([&] { return Insert(*db, 5); }); });
  std::thread third([&] { EXPECT_TRUE(writes.Write([&] { return Insert(*db, 3); }).ok()); });
  first.Release();
  second.join();
  third.join();
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists) << dup;
  EXPECT_EQ(Count(*db, "SELECT count(*) FROM t"), 3) << "5, 1 and 3";
}

TEST(GroupCommitTest, AnUnavailableWriteRollsBackItsWholeBatch) {
  std::unique_ptr<Database> db = *Database::Open(TestDatabasePath());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY)").ok());
  absl::Mutex db_mu;
  GroupCommit writes(*db, db_mu);
  HeldFirstWrite first(writes, *db);
  absl::Status a, b;
  std::thread ok_write([&] { a = writes.Write([&] { return Insert(*db, 2); }); });
  absl::SleepFor(absl::Milliseconds(50));
  std::thread failing([&] { b = writes.Write([] { return absl::UnavailableError("disk full"); }); });
  first.Release();
  ok_write.join();
  failing.join();
  EXPECT_EQ(b.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(a.code(), absl::StatusCode::kUnavailable) << "its batch was rolled back: not written";
  EXPECT_EQ(Count(*db, "SELECT count(*) FROM t WHERE k = 2"), 0);
  EXPECT_EQ(Count(*db, "SELECT count(*) FROM t WHERE k = 1"), 1) << "the first batch committed alone";
}

TEST(GroupCommitTest, AWriteWhoseErrorRollsBackTheTransactionFailsItsWholeBatch) {
  std::unique_ptr<Database> db = *Database::Open(TestDatabasePath());
  // Inserting 99 makes SQLite roll the whole transaction back, with an error that is not UNAVAILABLE.
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY);"
                       "CREATE TRIGGER no99 BEFORE INSERT ON t WHEN NEW.k = 99 "
                       "BEGIN SELECT RAISE(ROLLBACK, 'no 99'); END")
                  .ok());
  absl::Mutex db_mu;
  GroupCommit writes(*db, db_mu);
  HeldFirstWrite first(writes, *db);
  absl::Status before, failing, after;
  std::thread t1([&] { before = writes.Write([&] { return Insert(*db, 2); }); });
  absl::SleepFor(absl::Milliseconds(50));
  std::thread t2([&] { failing = writes.Write([&] { return Insert(*db, 99); }); });
  absl::SleepFor(absl::Milliseconds(50));
  std::thread t3([&] { after = writes.Write([&] { return Insert(*db, 4); }); });
  first.Release();
  t1.join();
  t2.join();
  t3.join();
  EXPECT_FALSE(failing.ok());
  EXPECT_FALSE(before.ok()) << "rolled back with its batch";
  EXPECT_FALSE(after.ok()) << "reported as its batch: not written";
  EXPECT_EQ(Count(*db, "SELECT count(*) FROM t WHERE k IN (2, 4, 99)"), 0) << "nothing of the batch on disk";
  EXPECT_EQ(Count(*db, "SELECT count(*) FROM t WHERE k = 1"), 1) << "the first batch committed alone";
  EXPECT_FALSE(db->in_transaction());
}

// Two inserts in one write: the second fails (k = 5 exists), so the write must leave nothing.
absl::Status InsertTwo(Database& db, int a, int b) {
  if (absl::Status s = Insert(db, a); !s.ok()) return s;
  return Insert(db, b);
}

TEST(GroupCommitTest, AFailedWriteOfSeveralStatementsLeavesNothingAndItsBatchCommits) {
  std::unique_ptr<Database> db = *Database::Open(TestDatabasePath());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY); INSERT INTO t VALUES (5)").ok());
  absl::Mutex db_mu;
  GroupCommit writes(*db, db_mu);
  HeldFirstWrite first(writes, *db);
  absl::Status failing, both, after;
  std::thread t1([&] { failing = writes.Write([&] { return InsertTwo(*db, 7, 5); }, WriteShape::kSeveralStatements); });
  absl::SleepFor(absl::Milliseconds(50));
  std::thread t2([&] { both = writes.Write([&] { return InsertTwo(*db, 8, 9); }, WriteShape::kSeveralStatements); });
  std::thread t3([&] { after = writes.Write([&] { return Insert(*db, 3); }); });
  first.Release();
  t1.join();
  t2.join();
  t3.join();
  EXPECT_EQ(failing.code(), absl::StatusCode::kAlreadyExists) << failing;
  EXPECT_EQ(Count(*db, "SELECT count(*) FROM t WHERE k = 7"), 0) << "its first statement was undone";
  EXPECT_TRUE(both.ok()) << both;
  EXPECT_TRUE(after.ok()) << after;
  EXPECT_EQ(Count(*db, "SELECT count(*) FROM t WHERE k IN (1, 3, 5, 8, 9)"), 5);
  EXPECT_FALSE(db->in_transaction());
}

TEST(GroupCommitTest, ALoneFailedWriteOfSeveralStatementsLeavesNothing) {
  std::unique_ptr<Database> db = *Database::Open(TestDatabasePath());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY); INSERT INTO t VALUES (5)").ok());
  absl::Mutex db_mu;
  GroupCommit writes(*db, db_mu);
  absl::Status failing = writes.Write([&] { return InsertTwo(*db, 7, 5); }, WriteShape::kSeveralStatements);
  EXPECT_EQ(failing.code(), absl::StatusCode::kAlreadyExists) << failing;
  EXPECT_EQ(Count(*db, "SELECT count(*) FROM t WHERE k = 7"), 0) << "its first statement was undone";
  EXPECT_TRUE(writes.Write([&] { return InsertTwo(*db, 7, 8); }, WriteShape::kSeveralStatements).ok());
  EXPECT_EQ(Count(*db, "SELECT count(*) FROM t"), 3);
  EXPECT_FALSE(db->in_transaction());
  EXPECT_EQ(writes.commits(), 2u);
}

}  // namespace
}  // namespace platform::sqlite
