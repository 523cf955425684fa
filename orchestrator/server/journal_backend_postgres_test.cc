// journal { postgres { dsn_file } } on a real PostgreSQL 15: the journal comes with the replicas'
// nonce store on the same database (its schema created), SQLite with none.
#include <string>

#include "gtest/gtest.h"
#include "orchestrator/server/journal_backend.h"
#include "platform/postgres/schema.h"
#include "platform/postgres/shared_server.h"

namespace orchestrator::server {
namespace {

namespace v1 = ::onchainkms::orchestrator::v1;

TEST(JournalBackendPostgresTest, APostgresJournalComesWithTheReplicasNonceStore) {
  absl::StatusOr<std::string> dsn_file = platform::postgres::SharedServer().CreateDatabase("backend_nonces");
  ASSERT_TRUE(dsn_file.ok()) << dsn_file.status();
  v1::OrchestratorConfig config;
  config.mutable_journal()->mutable_postgres()->set_dsn_file(*dsn_file);
  absl::StatusOr<OpenedJournal> opened = OpenConfiguredJournal(config);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_NE(opened->journal, nullptr);
  ASSERT_NE(opened->nonces, nullptr);
  std::unique_ptr<platform::postgres::Connection> conn =
      platform::postgres::Connect(*platform::postgres::Dsn::FromFile(*dsn_file));
  EXPECT_EQ(platform::postgres::SchemaVersion(*conn, "orchestrator_nonces").value_or(0), 1);
}

TEST(JournalBackendPostgresTest, SqliteHasNoNonceStore) {
  v1::OrchestratorConfig config;
  config.set_journal_path(::testing::TempDir() + "/journal.sqlite");
  absl::StatusOr<OpenedJournal> opened = OpenConfiguredJournal(config);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->nonces, nullptr) << "one process: the allocators keep their nonces in memory";
}

}  // namespace
}  // namespace orchestrator::server
