#include "platform/postgres/pool.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "platform/postgres/shared_server.h"
#include "platform/postgres/transaction.h"

namespace platform::postgres {
namespace {

TEST(PoolTest, LendsAtMostMaxConnectionsAndReusesThem) {
  PoolOptions options;
  options.max_connections = 2;
  std::unique_ptr<Pool> pool = *Pool::Create(TestDatabase(), options);
  absl::StatusOr<Pool::Lease> a = pool->Acquire();
  absl::StatusOr<Pool::Lease> b = pool->Acquire();
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string pid_a = (*a)->Execute("SELECT pg_backend_pid()")->Text(0, 0);
  EXPECT_NE(pid_a, (*b)->Execute("SELECT pg_backend_pid()")->Text(0, 0));
  absl::StatusOr<Pool::Lease> c = pool->Acquire(absl::Now() + absl::Milliseconds(100));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDeadlineExceeded) << c.status();
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    absl::StatusOr<Pool::Lease> gone = std::move(a);
  });
  absl::StatusOr<Pool::Lease> d = pool->Acquire(absl::Now() + absl::Seconds(10));
  release.join();
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->Execute("SELECT pg_backend_pid()")->Text(0, 0), pid_a) << "the same connection, lent again";
}

TEST(PoolTest, ThreadsShareThePool) {
  const Dsn dsn = TestDatabase();
  {
    std::unique_ptr<Connection> conn = Connect(dsn);
    ASSERT_TRUE(conn->Exec("CREATE TABLE t (v BIGINT)").ok());
  }
  std::unique_ptr<Pool> pool = *Pool::Create(dsn);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 20; ++j) {
        absl::StatusOr<Pool::Lease> lease = pool->Acquire();
        ASSERT_TRUE(lease.ok()) << lease.status();
        Transaction txn = *Transaction::Begin(**lease);
        ASSERT_TRUE((*lease)->Execute("INSERT INTO t VALUES ($1)", {Param::Int(i * 100 + j)}).ok());
        ASSERT_TRUE(txn.Commit().ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  absl::StatusOr<Pool::Lease> lease = pool->Acquire();
  EXPECT_EQ(*(*lease)->Execute("SELECT count(DISTINCT v) FROM t")->Int(0, 0), 160);
}

TEST(PoolTest, CreateFailsOnABadPassword) {
  TestServer& server = SharedServer();
  absl::StatusOr<std::unique_ptr<Pool>> pool = Pool::Create(*Dsn::Parse(server.DsnText("postgres", "nope"), "test"));
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kUnauthenticated) << pool.status();
}

}  // namespace
}  // namespace platform::postgres
