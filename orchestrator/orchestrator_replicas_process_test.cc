// Two real orchestrator processes on one PostgreSQL journal (a real PostgreSQL 15 started by the
// test), as replicas with short leases: an operation accepted by replica a is taken over by
// replica b after a is killed with SIGKILL (no release, no last write), once a's lease expired,
// fenced by a new lease epoch; b answers for it, and its clean shutdown releases it.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "onchainkms/orchestrator/v1/orchestrator.grpc.pb.h"
#include "platform/postgres/connection.h"
#include "platform/postgres/shared_server.h"
#include "platform/testing/server_process.h"

namespace {

namespace v1 = onchainkms::orchestrator::v1;
namespace pg = platform::postgres;
using platform::testing::ServerProcess;

class OrchestratorReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    { std::ofstream(dir_.path() + "/api-key") << "phak_test_key\n"; }
    ::chmod((dir_.path() + "/api-key").c_str(), 0600);
  }

  std::string Address(const std::string& replica) const {
    return absl::StrCat("unix:", dir_.path(), "/", replica, ".sock");
  }

  // Replica `replica` with a 2 s lease; Phala Cloud unreachable (its steps retry).
  std::unique_ptr<ServerProcess> Start(const std::string& replica, const std::string& dsn_file) {
    const std::string config = absl::StrCat(dir_.path(), "/", replica, ".textproto");
    std::ofstream(config) << "journal { postgres { replica_id: \"" << replica
                          << "\" lease_ttl { seconds: 2 } heartbeat_interval { nanos: 500000000 } "
                             "claim_interval { nanos: 250000000 } } }\n";
    absl::StatusOr<std::unique_ptr<ServerProcess>> p = ServerProcess::Start(
        platform::testing::RunfilePath("orchestrator/orchestrator"),
        {"--config=" + config, "--listen=" + Address(replica), "--journal_postgres_dsn_file=" + dsn_file,
         "--phala_cloud_base_url=http://127.0.0.1:9/api/v1", "--phala_cloud_api_key_file=" + dir_.path() + "/api-key"});
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return nullptr;
    EXPECT_TRUE((*p)->WaitUntilServing(Address(replica)).ok());
    return *std::move(p);
  }

  std::unique_ptr<v1::Orchestrator::Stub> Stub(const std::string& replica) {
    return v1::Orchestrator::NewStub(grpc::CreateChannel(Address(replica), grpc::InsecureChannelCredentials()));
  }

  platform::testing::ShortTempDir dir_;
};

// "owner epoch" of the operation.
std::string Lease(pg::Connection& db, const std::string& id) {
  absl::StatusOr<platform::postgres::Result> r =
      db.Execute(absl::StrCat("SELECT owner || ' ' || lease_epoch FROM operations WHERE id = '", id, "'"));
  if (!r.ok() || r->rows() != 1) return "";
  return r->Text(0, 0);
}

TEST_F(OrchestratorReplicasTest, AKilledReplicasOperationIsTakenOverAfterItsLeaseExpires) {
  absl::StatusOr<std::string> dsn_file = pg::SharedServer().CreateDatabase("orchestrator_replicas");
  ASSERT_TRUE(dsn_file.ok()) << dsn_file.status();
  std::unique_ptr<pg::Connection> db = *pg::Connection::Open(*pg::Dsn::FromFile(*dsn_file));
  std::unique_ptr<ServerProcess> a = Start("a", *dsn_file);
  ASSERT_NE(a, nullptr);
  // The CVM is the caller's (as if its deploy had recorded it): updates need an owner.
  ASSERT_TRUE(db->Exec(absl::StrCat("INSERT INTO resource_owners VALUES ('cvm', "
                                    "'app_0000000000000000000000000000000000000001', 'uid:",
                                    ::getuid(), "', 'deploy:op_test', 0)"))
                  .ok());
  v1::Operation created;
  {
    grpc::ClientContext context;
    v1::UpdateDockerComposeRequest request;
    request.set_request_id("takeover-1");
    request.set_cvm_id("app_0000000000000000000000000000000000000001");
    request.set_docker_compose_file("services: {}\n");
    const grpc::Status status = Stub("a")->UpdateDockerCompose(&context, request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(Lease(*db, created.id()), "a 1");
  std::unique_ptr<ServerProcess> b = Start("b", *dsn_file);
  ASSERT_NE(b, nullptr);
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(Lease(*db, created.id()), "a 1") << "a is live";

  const absl::Time killed = absl::Now();
  (void)a->Stop(SIGKILL);  // "died of a signal": that is the point
  ASSERT_TRUE(a->Exited());
  std::string lease;
  while (absl::Now() - killed < absl::Seconds(15)) {
    lease = Lease(*db, created.id());
    if (lease == "b 2") break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(lease, "b 2") << "taken over by b with a new epoch";
  EXPECT_GE(absl::Now() - killed, absl::Seconds(1)) << "not before a's lease ran out";
  EXPECT_EQ(*platform::testing::CheckHealth(Address("b"), "onchainkms.orchestrator.v1.Orchestrator"), "SERVING");
  {
    grpc::ClientContext context;
    v1::GetOperationRequest request;
    request.set_operation_id(created.id());
    v1::Operation got;
    ASSERT_TRUE(Stub("b")->GetOperation(&context, request, &got).ok());
    EXPECT_EQ(got.request_id(), "takeover-1");
    EXPECT_EQ(got.state(), v1::OPERATION_STATE_RUNNING);
  }
  {
    // The same request again, now to b: the same operation.
    grpc::ClientContext context;
    v1::UpdateDockerComposeRequest request;
    request.set_request_id("takeover-1");
    request.set_cvm_id("app_0000000000000000000000000000000000000001");
    request.set_docker_compose_file("services: {}\n");
    v1::Operation again;
    ASSERT_TRUE(Stub("b")->UpdateDockerCompose(&context, request, &again).ok());
    EXPECT_EQ(again.id(), created.id());
  }
  EXPECT_EQ(*b->Stop(SIGTERM), 0);
  EXPECT_EQ(Lease(*db, created.id()), " 2") << "released by b's clean shutdown";
  EXPECT_EQ(*(*db->Execute("SELECT count(*) FROM replicas WHERE id = 'b'")).Int(0, 0), 0);
  EXPECT_EQ(*(*db->Execute("SELECT count(*) FROM operations")).Int(0, 0), 1);
}

}  // namespace
