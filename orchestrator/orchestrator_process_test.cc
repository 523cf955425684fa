// Runs the real orchestrator binary as a child process on a Unix socket in a temp dir.
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "onchainkms/orchestrator/v1/config.pb.h"
#include "onchainkms/orchestrator/v1/orchestrator.grpc.pb.h"
#include "rpc/config_file.h"
#include "rpc/testing/server_process.h"

namespace {

namespace v1 = onchainkms::orchestrator::v1;
using rpc::testing::RunfilePath;
using rpc::testing::ServerProcess;
using rpc::testing::ShortTempDir;
using ::testing::HasSubstr;

class OrchestratorProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    address_ = "unix:" + dir_.path() + "/orchestrator.sock";
    absl::StatusOr<std::unique_ptr<ServerProcess>> p =
        ServerProcess::Start(RunfilePath("orchestrator/orchestrator"), {"--listen=" + address_});
    ASSERT_TRUE(p.ok()) << p.status();
    process_ = *std::move(p);
    ASSERT_TRUE(process_->WaitUntilServing(address_).ok());
    stub_ = v1::Orchestrator::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  ShortTempDir dir_;
  std::string address_;
  std::unique_ptr<ServerProcess> process_;
  std::unique_ptr<v1::Orchestrator::Stub> stub_;
};

TEST_F(OrchestratorProcessTest, HealthOfTheServiceIsServing) {
  EXPECT_EQ(*rpc::testing::CheckHealth(address_, "onchainkms.orchestrator.v1.Orchestrator"), "SERVING");
  EXPECT_EQ(rpc::testing::CheckHealth(address_, "onchainkms.signer.v1.Signer").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(OrchestratorProcessTest, UnaryRpcIsUnimplementedNamingTheIssue) {
  grpc::ClientContext context;
  v1::DeployCvmRequest request;
  request.set_request_id("r-1");
  v1::Operation operation;
  const grpc::Status status = stub_->DeployCvm(&context, request, &operation);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(status.error_message(), HasSubstr("DeployCvm"));
  EXPECT_THAT(status.error_message(), HasSubstr("issue #7"));
}

TEST_F(OrchestratorProcessTest, StreamingRpcIsUnimplementedNamingTheIssue) {
  grpc::ClientContext context;
  v1::WatchOperationRequest request;
  request.set_operation_id("op_1");
  auto reader = stub_->WatchOperation(&context, request);
  v1::OperationEvent event;
  EXPECT_FALSE(reader->Read(&event));
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(status.error_message(), HasSubstr("WatchOperation"));
}

TEST_F(OrchestratorProcessTest, GracefulShutdownOnSigintAndSigterm) {
  EXPECT_EQ(*process_->Stop(SIGINT), 0);
  EXPECT_NE(::access((dir_.path() + "/orchestrator.sock").c_str(), F_OK), 0);
  // And again with SIGTERM on a fresh process over the same (now free) path.
  absl::StatusOr<std::unique_ptr<ServerProcess>> again =
      ServerProcess::Start(RunfilePath("orchestrator/orchestrator"), {"--listen=" + address_});
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->WaitUntilServing(address_).ok());
  EXPECT_EQ(*(*again)->Stop(SIGTERM), 0);
}

TEST_F(OrchestratorProcessTest, SecondInstanceOnTheSameSocketIsRefused) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> second =
      ServerProcess::Start(RunfilePath("orchestrator/orchestrator"), {"--listen=" + address_});
  ASSERT_TRUE(second.ok());
  absl::StatusOr<int> code = (*second)->Stop(0, absl::Seconds(15));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1);
  EXPECT_EQ(*rpc::testing::CheckHealth(address_, ""), "SERVING") << "the first one keeps its socket";
}

TEST(OrchestratorExamplesTest, ExampleConfigParses) {
  v1::OrchestratorConfig config;
  absl::Status s = rpc::LoadConfigFile(RunfilePath("orchestrator/orchestrator.example.textproto"), &config);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(config.chains_size(), 2);
  EXPECT_EQ(config.chains(0).kms_type(), v1::KMS_TYPE_BASE);
  EXPECT_EQ(config.chains(0).rpc_endpoints_size(), 2);
  EXPECT_EQ(config.signer().address(), "unix:/run/onchain-kms/signer.sock");
}

}  // namespace
