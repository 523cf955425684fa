// Runs the real orchestrator binary on a PostgreSQL journal (a real PostgreSQL 15 started by the
// test): health, an operation written and read back through Get and List, across a restart; and
// the start-up errors a wrong password and a newer schema give, which name the field and never
// the password.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "onchainkms/orchestrator/v1/orchestrator.grpc.pb.h"
#include "platform/postgres/connection.h"
#include "platform/postgres/shared_server.h"
#include "platform/testing/server_process.h"

namespace {

namespace v1 = onchainkms::orchestrator::v1;
using platform::postgres::SharedServer;
using platform::testing::RunfilePath;
using platform::testing::ServerProcess;
using platform::testing::ShortTempDir;
using ::testing::HasSubstr;
using ::testing::Not;

class OrchestratorPostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    address_ = "unix:" + dir_.path() + "/orchestrator.sock";
    { std::ofstream(dir_.path() + "/api-key") << "phak_test_key\n"; }
    ::chmod((dir_.path() + "/api-key").c_str(), 0600);
  }

  std::unique_ptr<ServerProcess> Start(const std::string& dsn_file, const std::string& output_path = "") {
    absl::StatusOr<std::unique_ptr<ServerProcess>> p = ServerProcess::Start(
        RunfilePath("orchestrator/orchestrator"),
        {"--listen=" + address_, "--journal_postgres_dsn_file=" + dsn_file,
         "--phala_cloud_base_url=http://127.0.0.1:9/api/v1", "--phala_cloud_api_key_file=" + dir_.path() + "/api-key"},
        output_path);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }

  // Starts it expecting a start-up failure; returns what it printed and checks exit code 1.
  std::string FailedStart(const std::string& dsn_file) {
    const std::string output = dir_.path() + "/failed.out";
    std::unique_ptr<ServerProcess> p = Start(dsn_file, output);
    if (p == nullptr) return "";
    absl::StatusOr<int> code = p->Stop(0, absl::Seconds(20));
    EXPECT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(code.value_or(-1), 1);
    std::stringstream printed;
    printed << std::ifstream(output).rdbuf();
    return printed.str();
  }

  std::unique_ptr<v1::Orchestrator::Stub> Stub() {
    return v1::Orchestrator::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  ShortTempDir dir_;
  std::string address_;
};

TEST_F(OrchestratorPostgresTest, ServesAndKeepsOperationsInPostgres) {
  absl::StatusOr<std::string> dsn_file = SharedServer().CreateDatabase("orchestrator_serves");
  ASSERT_TRUE(dsn_file.ok()) << dsn_file.status();
  std::unique_ptr<ServerProcess> process = Start(*dsn_file);
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(process->WaitUntilServing(address_).ok());
  EXPECT_EQ(*platform::testing::CheckHealth(address_, "onchainkms.orchestrator.v1.Orchestrator"), "SERVING");
  {
    // The CVM is the caller's (as if its deploy had recorded it): updates need an owner.
    std::unique_ptr<platform::postgres::Connection> db =
        *platform::postgres::Connection::Open(*platform::postgres::Dsn::FromFile(*dsn_file));
    ASSERT_TRUE(db->Exec(absl::StrCat("INSERT INTO resource_owners VALUES ('cvm', "
                                      "'app_0000000000000000000000000000000000000001', 'uid:",
                                      ::getuid(), "', 'deploy:op_test', 0)"))
                    .ok());
  }

  // Accepted and journaled; it then retries the unreachable Phala Cloud, which is fine here.
  v1::Operation created;
  {
    grpc::ClientContext context;
    v1::UpdateDockerComposeRequest request;
    request.set_request_id("pg-1");
    request.set_cvm_id("app_0000000000000000000000000000000000000001");
    request.set_docker_compose_file("services: {}\n");
    const grpc::Status status = Stub()->UpdateDockerCompose(&context, request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(*process->Stop(SIGTERM), 0);

  process = Start(*dsn_file);
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(process->WaitUntilServing(address_).ok());
  std::unique_ptr<v1::Orchestrator::Stub> stub = Stub();
  {
    grpc::ClientContext context;
    v1::GetOperationRequest request;
    request.set_operation_id(created.id());
    v1::Operation got;
    ASSERT_TRUE(stub->GetOperation(&context, request, &got).ok());
    EXPECT_EQ(got.request_id(), "pg-1");
    EXPECT_EQ(got.cvm_id(), created.cvm_id());
  }
  grpc::ClientContext context;
  v1::ListOperationsResponse response;
  ASSERT_TRUE(stub->ListOperations(&context, v1::ListOperationsRequest(), &response).ok());
  ASSERT_EQ(response.operations_size(), 1);
  EXPECT_EQ(response.operations(0).id(), created.id());
  EXPECT_EQ(*process->Stop(SIGTERM), 0);

  std::unique_ptr<platform::postgres::Connection> db =
      *platform::postgres::Connection::Open(*platform::postgres::Dsn::FromFile(*dsn_file));
  EXPECT_EQ(*(*db->Execute("SELECT count(*) FROM operations WHERE request_id = 'pg-1'")).Int(0, 0), 1);
}

TEST_F(OrchestratorPostgresTest, AWrongPasswordFailsStartUpWithoutQuotingIt) {
  ASSERT_TRUE(SharedServer().CreateDatabase("orchestrator_password").ok());
  absl::StatusOr<std::string> dsn_file = SharedServer().WriteDsnFile(
      "orchestrator_wrong.dsn", SharedServer().DsnText("orchestrator_password", "Wrong-Secret-4711"));
  ASSERT_TRUE(dsn_file.ok()) << dsn_file.status();
  const std::string printed = FailedStart(*dsn_file);
  EXPECT_THAT(printed, HasSubstr(absl::StrCat("journal.postgres.dsn_file ", *dsn_file)));
  EXPECT_THAT(printed, HasSubstr("password authentication failed for user"));
  EXPECT_THAT(printed, HasSubstr("user=app"));
  EXPECT_THAT(printed, Not(HasSubstr("Wrong-Secret-4711")));
  EXPECT_THAT(printed, Not(HasSubstr(SharedServer().app_password())));
}

TEST_F(OrchestratorPostgresTest, ANewerSchemaFailsStartUpAndNothingIsWritten) {
  absl::StatusOr<std::string> dsn_file = SharedServer().CreateDatabase("orchestrator_newer");
  ASSERT_TRUE(dsn_file.ok()) << dsn_file.status();
  std::unique_ptr<platform::postgres::Connection> db =
      *platform::postgres::Connection::Open(*platform::postgres::Dsn::FromFile(*dsn_file));
  ASSERT_TRUE(db->Exec("CREATE TABLE platform_schema_versions (schema TEXT PRIMARY KEY, version BIGINT NOT NULL);"
                       "INSERT INTO platform_schema_versions VALUES ('orchestrator_journal', 1000)")
                  .ok());
  const std::string printed = FailedStart(*dsn_file);
  EXPECT_THAT(printed,
              HasSubstr("schema orchestrator_journal has schema version 1000; this program knows versions up to"));
  EXPECT_EQ(*(*db->Execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).Int(0, 0), 1)
      << "no table created";
}

}  // namespace
