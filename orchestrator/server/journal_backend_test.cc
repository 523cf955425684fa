// Which journal the configuration names, and the errors naming the field (no server needed: the
// PostgreSQL cases stop at the DSN file).
#include "orchestrator/server/journal_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/testing/server_process.h"

namespace orchestrator::server {
namespace {

namespace v1 = ::onchainkms::orchestrator::v1;
using ::testing::HasSubstr;
using ::testing::Not;

absl::Status OpenStatus(const v1::OrchestratorConfig& config) { return OpenConfiguredJournal(config).status(); }

TEST(JournalBackendTest, SqliteByEitherForm) {
  platform::testing::ShortTempDir dir;
  v1::OrchestratorConfig old_form;
  old_form.set_journal_path(dir.path() + "/a.sqlite");
  absl::StatusOr<OpenedJournal> a = OpenConfiguredJournal(old_form);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->description, dir.path() + "/a.sqlite");
  v1::OrchestratorConfig new_form;
  new_form.mutable_journal()->mutable_sqlite()->set_path(dir.path() + "/b.sqlite");
  EXPECT_TRUE(OpenConfiguredJournal(new_form).ok());
}

TEST(JournalBackendTest, ExactlyOneJournalIsRequired) {
  v1::OrchestratorConfig none;
  EXPECT_EQ(OpenStatus(none), absl::InvalidArgumentError("journal_path or journal: required"));
  v1::OrchestratorConfig both;
  both.set_journal_path("/tmp/x.sqlite");
  both.mutable_journal()->mutable_postgres()->set_dsn_file("/tmp/x.dsn");
  EXPECT_EQ(OpenStatus(both), absl::InvalidArgumentError("journal_path and journal: set only one of them"));
  v1::OrchestratorConfig empty;
  empty.mutable_journal();
  EXPECT_EQ(OpenStatus(empty), absl::InvalidArgumentError("journal: set sqlite or postgres"));
  v1::OrchestratorConfig no_path;
  no_path.mutable_journal()->mutable_sqlite();
  EXPECT_EQ(OpenStatus(no_path), absl::InvalidArgumentError("journal.sqlite.path: required"));
  v1::OrchestratorConfig no_dsn;
  no_dsn.mutable_journal()->mutable_postgres();
  EXPECT_EQ(OpenStatus(no_dsn), absl::InvalidArgumentError("journal.postgres.dsn_file: required"));
}

TEST(JournalBackendTest, ABadDsnFileNamesTheFieldAndNotTheContent) {
  platform::testing::ShortTempDir dir;
  const std::string path = dir.path() + "/pg.dsn";
  { std::ofstream(path) << "host=/nowhere dbname=x user=app password=Very-Secret-99\n"; }
  ::chmod(path.c_str(), 0644);
  v1::OrchestratorConfig config;
  config.mutable_journal()->mutable_postgres()->set_dsn_file(path);
  absl::Status open = OpenStatus(config);
  EXPECT_EQ(open.code(), absl::StatusCode::kInvalidArgument) << open;
  EXPECT_THAT(open.message(), HasSubstr("journal.postgres.dsn_file: "));
  EXPECT_THAT(open.message(), HasSubstr(path));
  EXPECT_THAT(open.message(), Not(HasSubstr("Very-Secret-99")));
  config.mutable_journal()->mutable_postgres()->set_dsn_file(dir.path() + "/missing.dsn");
  EXPECT_EQ(OpenStatus(config).code(), absl::StatusCode::kInvalidArgument);
}

TEST(JournalBackendTest, NoServerIsUnavailableNamingTheFieldNotThePassword) {
  platform::testing::ShortTempDir dir;
  const std::string path = dir.path() + "/pg.dsn";
  { std::ofstream(path) << "host=" << dir.path() << " dbname=x user=app password=Very-Secret-99\n"; }
  ::chmod(path.c_str(), 0600);
  v1::OrchestratorConfig config;
  config.mutable_journal()->mutable_postgres()->set_dsn_file(path);
  absl::Status open = OpenStatus(config);
  EXPECT_EQ(open.code(), absl::StatusCode::kUnavailable) << open;
  EXPECT_THAT(open.message(), HasSubstr("journal.postgres.dsn_file " + path + ": "));
  EXPECT_THAT(open.message(), HasSubstr("user=app"));
  EXPECT_THAT(open.message(), Not(HasSubstr("Very-Secret-99")));
}

TEST(JournalBackendTest, ReplicaSettingsHaveDefaultsAndFittingTimings) {
  v1::PostgresJournalConfig config;
  absl::StatusOr<ReplicaSettings> defaults = ConfiguredReplica(config);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_THAT(defaults->replica_id, HasSubstr(absl::StrCat("-", ::getpid())));
  EXPECT_EQ(defaults->lease.ttl, absl::Seconds(15));
  EXPECT_EQ(defaults->lease.heartbeat_interval, absl::Seconds(5));
  EXPECT_EQ(defaults->lease.claim_interval, absl::Seconds(2));
  config.set_replica_id("orchestrator-0");
  config.mutable_lease_ttl()->set_seconds(2);
  config.mutable_heartbeat_interval()->set_nanos(500000000);
  absl::StatusOr<ReplicaSettings> set = ConfiguredReplica(config);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->replica_id, "orchestrator-0");
  EXPECT_EQ(set->lease.heartbeat_interval, absl::Milliseconds(500));

  config.mutable_heartbeat_interval()->set_seconds(1);  // 1.5 s > 2 s / 3
  EXPECT_EQ(
      ConfiguredReplica(config).status(),
      absl::InvalidArgumentError("journal.postgres.heartbeat_interval: must be positive and at most lease_ttl / 3"));
  v1::OrchestratorConfig whole;
  *whole.mutable_journal()->mutable_postgres() = config;
  whole.mutable_journal()->mutable_postgres()->set_dsn_file("/nonexistent.dsn");
  EXPECT_THAT(OpenStatus(whole).message(), HasSubstr("heartbeat_interval")) << "refused before connecting";
}

}  // namespace
}  // namespace orchestrator::server
