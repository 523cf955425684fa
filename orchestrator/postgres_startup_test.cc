// Start-up errors of the shipped orchestrator binary on a PostgreSQL journal (design § 9.4): a bad
// DSN file (missing, readable by others, empty, garbage), an unreachable server, a wrong password,
// an unknown database and a database at a newer schema version. Each case must end the process
// with a one-line error that names the problem, with the documented exit code (2: the DSN file,
// like any bad config; 1: the database refused or is unusable), never quote the password or any
// other DSN secret, and leave the database exactly as it was; a second process with a live
// replica's id waits for its lease, then exits 1.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/postgres/connection.h"
#include "platform/postgres/shared_server.h"
#include "platform/testing/server_process.h"

namespace {

namespace pg = platform::postgres;
using pg::Connection;
using pg::SharedServer;
using platform::testing::ServerProcess;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kDsnSecret[] = "Dsn-Secret-Q7x2";  // a password that must never be printed
constexpr int kBadConfig = 2;                     // main.cc: a bad command line or config file
constexpr int kCannotStart = 1;                   // main.cc: the database refused or is unusable

// What a failed start printed and how it ended.
struct Outcome {
  int exit_code = -1;
  std::string printed;     // stdout + stderr
  std::string error_line;  // the one "orchestrator: ..." line
  absl::Duration took;
};

// Row counts of every user table plus the tables themselves: "nothing written" compares two of these.
std::string DatabaseContent(Connection& db) {
  absl::StatusOr<platform::postgres::Result> tables =
      db.Execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
  if (!tables.ok()) return tables.status().ToString();
  std::string out;
  for (int row = 0; row < tables->rows(); ++row) {
    const std::string name = tables->Text(row, 0);
    absl::StatusOr<platform::postgres::Result> count = db.Execute(absl::StrCat("SELECT count(*) FROM \"", name, "\""));
    absl::StrAppend(&out, name, "=", count.ok() ? *count->Int(0, 0) : -1, ";");
  }
  return out;
}

class PostgresStartupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    { std::ofstream(dir_.path() + "/api-key") << "phak_test_key\n"; }
    ::chmod((dir_.path() + "/api-key").c_str(), 0600);
  }

  std::string WriteFile(const std::string& name, const std::string& content, mode_t mode) {
    const std::string path = dir_.path() + "/" + name;
    { std::ofstream(path, std::ios::trunc) << content; }
    ::chmod(path.c_str(), mode);
    return path;
  }

  // Runs the binary with `dsn_file` as its journal; it must exit by itself within 20 s.
  Outcome Run(const std::string& dsn_file) {
    const std::string output = dir_.path() + "/out.txt";
    ::unlink(output.c_str());
    const absl::Time start = absl::Now();
    absl::StatusOr<std::unique_ptr<ServerProcess>> p = ServerProcess::Start(
        platform::testing::RunfilePath("orchestrator/orchestrator"),
        {"--listen=unix:" + dir_.path() + "/o.sock", "--journal_postgres_dsn_file=" + dsn_file,
         "--phala_cloud_base_url=http://127.0.0.1:9/api/v1", "--phala_cloud_api_key_file=" + dir_.path() + "/api-key"},
        output);
    Outcome outcome;
    if (!p.ok()) {
      ADD_FAILURE() << p.status();
      return outcome;
    }
    const absl::Time until = start + absl::Seconds(20);
    while (!(*p)->Exited() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(20));
    outcome.took = absl::Now() - start;
    absl::StatusOr<int> code = (*p)->Stop(0, absl::Seconds(1));  // signal 0: only waits
    EXPECT_TRUE(code.ok()) << "still running after 20 s: " << code.status();
    outcome.exit_code = code.value_or(-1);
    std::stringstream printed;
    printed << std::ifstream(output).rdbuf();
    outcome.printed = printed.str();
    for (absl::string_view line : absl::StrSplit(outcome.printed, '\n')) {
      if (absl::StartsWith(line, "orchestrator: ")) {
        EXPECT_TRUE(outcome.error_line.empty()) << "more than one error line:\n" << outcome.printed;
        outcome.error_line = std::string(line);
      }
    }
    EXPECT_FALSE(outcome.error_line.empty()) << "no \"orchestrator: \" line:\n" << outcome.printed;
    EXPECT_THAT(outcome.printed, Not(HasSubstr(kDsnSecret)));
    EXPECT_THAT(outcome.printed, Not(HasSubstr(SharedServer().app_password())));
    return outcome;
  }

  platform::testing::ShortTempDir dir_;
};

TEST_F(PostgresStartupTest, AMissingDsnFileIsABadConfigNamingTheFile) {
  const std::string path = dir_.path() + "/absent.dsn";
  const Outcome o = Run(path);
  EXPECT_EQ(o.exit_code, kBadConfig);
  EXPECT_THAT(o.error_line, HasSubstr("journal.postgres.dsn_file"));
  EXPECT_THAT(o.error_line, HasSubstr(path));
  EXPECT_THAT(o.error_line, HasSubstr("cannot open"));
}

TEST_F(PostgresStartupTest, AGroupReadableDsnFileIsRefusedNamingTheMode) {
  absl::StatusOr<std::string> real = SharedServer().CreateDatabase("startup_mode");
  ASSERT_TRUE(real.ok()) << real.status();
  const std::string path = WriteFile("open.dsn", SharedServer().DsnText("startup_mode", kDsnSecret), 0644);
  std::unique_ptr<Connection> db = pg::Connect(*pg::Dsn::FromFile(*real));
  const Outcome o = Run(path);
  EXPECT_EQ(o.exit_code, kBadConfig);
  EXPECT_THAT(o.error_line, HasSubstr(path));
  EXPECT_THAT(o.error_line, HasSubstr("mode 0644"));
  EXPECT_EQ(DatabaseContent(*db), "") << "nothing created";
}

TEST_F(PostgresStartupTest, AnEmptyOrGarbageDsnFileIsRefusedWithoutQuotingIt) {
  const std::string empty = WriteFile("empty.dsn", "\n", 0600);
  Outcome o = Run(empty);
  EXPECT_EQ(o.exit_code, kBadConfig);
  EXPECT_THAT(o.error_line, HasSubstr("empty connection string"));

  const std::string garbage =
      WriteFile("garbage.dsn", absl::StrCat("host=db password=", kDsnSecret, " sslmode='unterminated"), 0600);
  o = Run(garbage);
  EXPECT_EQ(o.exit_code, kBadConfig);
  EXPECT_THAT(o.error_line, HasSubstr(garbage));
  EXPECT_THAT(o.error_line, HasSubstr("not a valid PostgreSQL connection string"));
}

TEST_F(PostgresStartupTest, AnUnreachableServerFailsQuicklyNamingHostAndPort) {
  const int port = platform::testing::FreeTcpPort();
  const std::string path = WriteFile(
      "closed.dsn", absl::StrCat("host=127.0.0.1 port=", port, " dbname=orchestrator user=app password=", kDsnSecret),
      0600);
  const Outcome o = Run(path);
  EXPECT_EQ(o.exit_code, kCannotStart);
  EXPECT_LT(o.took, absl::Seconds(10));
  EXPECT_THAT(o.error_line, HasSubstr("127.0.0.1"));
  EXPECT_THAT(o.error_line, HasSubstr(absl::StrCat(port)));
}

TEST_F(PostgresStartupTest, AWrongPasswordFailsWithTheUserAndLeavesTheDatabaseEmpty) {
  absl::StatusOr<std::string> real = SharedServer().CreateDatabase("startup_password");
  ASSERT_TRUE(real.ok()) << real.status();
  std::unique_ptr<Connection> db = pg::Connect(*pg::Dsn::FromFile(*real));
  const std::string path = WriteFile("wrong.dsn", SharedServer().DsnText("startup_password", kDsnSecret), 0600);
  const Outcome o = Run(path);
  EXPECT_EQ(o.exit_code, kCannotStart);
  EXPECT_THAT(o.error_line, HasSubstr("password authentication failed for user"));
  EXPECT_THAT(o.error_line, HasSubstr(path));
  EXPECT_EQ(DatabaseContent(*db), "");
}

TEST_F(PostgresStartupTest, AnUnknownDatabaseIsNamed) {
  const std::string path = WriteFile("nope.dsn", SharedServer().DsnText("startup_nope_db"), 0600);
  const Outcome o = Run(path);
  EXPECT_EQ(o.exit_code, kCannotStart);
  EXPECT_THAT(o.error_line, HasSubstr("startup_nope_db"));
  EXPECT_THAT(o.error_line, HasSubstr("does not exist"));
}

TEST_F(PostgresStartupTest, ANewerSchemaIsRefusedAndTheVersionRowIsUnchanged) {
  absl::StatusOr<std::string> dsn_file = SharedServer().CreateDatabase("startup_newer");
  ASSERT_TRUE(dsn_file.ok()) << dsn_file.status();
  // A database migrated by this binary first, then "upgraded" by a future one.
  {
    absl::StatusOr<std::unique_ptr<ServerProcess>> p = ServerProcess::Start(
        platform::testing::RunfilePath("orchestrator/orchestrator"),
        {"--listen=unix:" + dir_.path() + "/o.sock", "--journal_postgres_dsn_file=" + *dsn_file,
         "--phala_cloud_base_url=http://127.0.0.1:9/api/v1", "--phala_cloud_api_key_file=" + dir_.path() + "/api-key"});
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_TRUE((*p)->WaitUntilServing("unix:" + dir_.path() + "/o.sock").ok());
    ASSERT_EQ(*(*p)->Stop(SIGTERM), 0);
  }
  std::unique_ptr<Connection> db = pg::Connect(*pg::Dsn::FromFile(*dsn_file));
  ASSERT_TRUE(db->Exec("UPDATE platform_schema_versions SET version = 999 WHERE schema = 'orchestrator_journal'").ok());
  const std::string before = DatabaseContent(*db);
  absl::StatusOr<platform::postgres::Result> stats_before =
      db->Execute("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables");
  ASSERT_TRUE(stats_before.ok());

  const Outcome o = Run(*dsn_file);
  EXPECT_EQ(o.exit_code, kCannotStart);
  EXPECT_THAT(o.error_line, HasSubstr("schema orchestrator_journal has schema version 999"));
  EXPECT_EQ(DatabaseContent(*db), before);
  EXPECT_EQ(
      *(*db->Execute("SELECT version FROM platform_schema_versions WHERE schema = 'orchestrator_journal'")).Int(0, 0),
      999);
  absl::SleepFor(absl::Seconds(1.5));  // the statistics are flushed up to a second after a session ends
  absl::StatusOr<platform::postgres::Result> stats_after =
      db->Execute("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables");
  ASSERT_TRUE(stats_after.ok());
  EXPECT_EQ(*stats_after->Int(0, 0), *stats_before->Int(0, 0)) << "no row inserted, updated or deleted";
}

// Two processes with one replica_id while the first heartbeats (design § 4.2): the second waits
// about a lease TTL for the first's lease to lapse, then gives up.
TEST_F(PostgresStartupTest, ADuplicateReplicaIdExitsNamingIt) {
  absl::StatusOr<std::string> dsn_file = SharedServer().CreateDatabase("startup_duplicate");
  ASSERT_TRUE(dsn_file.ok()) << dsn_file.status();
  const std::string journal = absl::StrCat("journal { postgres { dsn_file: \"", *dsn_file,
                                           "\" replica_id: \"dup\" lease_ttl { seconds: 2 } "
                                           "heartbeat_interval { nanos: 500000000 } } }\n");
  const std::string first_config = WriteFile("first.textproto", journal, 0600);
  const std::string second_config = WriteFile("second.textproto", journal, 0600);
  auto args = [&](const std::string& config, const std::string& socket) {
    return std::vector<std::string>{"--config=" + config, "--listen=unix:" + dir_.path() + "/" + socket,
                                    "--phala_cloud_base_url=http://127.0.0.1:9/api/v1",
                                    "--phala_cloud_api_key_file=" + dir_.path() + "/api-key"};
  };
  absl::StatusOr<std::unique_ptr<ServerProcess>> first =
      ServerProcess::Start(platform::testing::RunfilePath("orchestrator/orchestrator"), args(first_config, "a.sock"));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->WaitUntilServing("unix:" + dir_.path() + "/a.sock").ok());

  const std::string output = dir_.path() + "/second.out";
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<ServerProcess>> second = ServerProcess::Start(
      platform::testing::RunfilePath("orchestrator/orchestrator"), args(second_config, "b.sock"), output);
  ASSERT_TRUE(second.ok()) << second.status();
  absl::StatusOr<int> code = (*second)->Stop(0, absl::Seconds(20));  // signal 0: only waits
  ASSERT_TRUE(code.ok()) << "the second process with replica id dup is still running";
  EXPECT_EQ(*code, kCannotStart);
  EXPECT_GE(absl::Now() - start, absl::Seconds(2)) << "it waits a lease TTL before giving up";
  std::stringstream printed;
  printed << std::ifstream(output).rdbuf();
  EXPECT_THAT(printed.str(), HasSubstr("dup"));
  EXPECT_FALSE((*first)->Exited()) << "the first one keeps running";
  EXPECT_EQ(*(*first)->Stop(SIGTERM), 0);
}

}  // namespace
