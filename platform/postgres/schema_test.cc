#include "platform/postgres/schema.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/postgres/shared_server.h"

namespace platform::postgres {
namespace {

using ::testing::HasSubstr;

constexpr absl::string_view kV1 = "CREATE TABLE a (x BIGINT);";
constexpr absl::string_view kV2 = "ALTER TABLE a ADD COLUMN y TEXT; CREATE INDEX a_y ON a (y);";

int64_t TableCount(Connection& conn) {
  return *conn.Execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")->Int(0, 0);
}

TEST(SchemaTest, AppliesOnceAndThenOnlyNewMigrations) {
  const Dsn dsn = TestDatabase();
  std::unique_ptr<Connection> conn = Connect(dsn);
  EXPECT_EQ(*SchemaVersion(*conn, "journal"), 0);
  ASSERT_TRUE(ApplySchema(*conn, "journal", {kV1}).ok());
  EXPECT_EQ(*SchemaVersion(*conn, "journal"), 1);
  ASSERT_TRUE(ApplySchema(*conn, "journal", {kV1}).ok()) << "nothing to do";
  std::unique_ptr<Connection> later = Connect(dsn);
  absl::Status s = ApplySchema(*later, "journal", {kV1, kV2});
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(*SchemaVersion(*later, "journal"), 2);
  EXPECT_TRUE(later->Execute("INSERT INTO a (x, y) VALUES ($1, $2)", {Param::Int(1), Param::Text("z")}).ok());
  EXPECT_EQ(*SchemaVersion(*later, "signer"), 0) << "schemas are versioned by name";
}

TEST(SchemaTest, FailedMigrationLeavesTheVersionAndWritesNothing) {
  std::unique_ptr<Connection> conn = Connect(TestDatabase());
  absl::Status s = ApplySchema(*conn, "journal", {kV1, "CREATE TABLE b (x INTEGER); SELECT nope;"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  EXPECT_EQ(*SchemaVersion(*conn, "journal"), 1);
  EXPECT_FALSE(conn->Execute("SELECT * FROM b").ok()) << "the failed migration was rolled back";
}

TEST(SchemaTest, RefusesANewerDatabaseNamingBothVersionsAndWritesNothing) {
  std::unique_ptr<Connection> conn = Connect(TestDatabase());
  ASSERT_TRUE(ApplySchema(*conn, "journal", {kV1, kV2}).ok());
  const int64_t tables = TableCount(*conn);
  absl::Status s = ApplySchema(*conn, "journal", {kV1});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("schema journal has schema version 2; this program knows versions up to 1"));
  EXPECT_THAT(s.message(), HasSubstr("dbname=schematest_"));
  EXPECT_EQ(*SchemaVersion(*conn, "journal"), 2);
  EXPECT_EQ(TableCount(*conn), tables);
  EXPECT_FALSE(conn->in_transaction());
}

TEST(SchemaTest, ReplicasStartingAtOnceMigrateExactlyOnce) {
  const Dsn dsn = TestDatabase();
  // A non-idempotent migration: run twice it would fail (the table exists).
  const std::vector<absl::string_view> migrations = {kV1, kV2, "CREATE TABLE c (z INTEGER)"};
  std::vector<absl::Status> results(4);
  std::vector<std::unique_ptr<Connection>> conns;
  for (size_t i = 0; i < results.size(); ++i) conns.push_back(Connect(dsn));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = ApplySchema(*conns[i], "journal", migrations); });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(*SchemaVersion(*conns[0], "journal"), 3);
}

}  // namespace
}  // namespace platform::postgres
