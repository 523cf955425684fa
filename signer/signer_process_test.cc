// Runs the real signer binary as a child process on a Unix socket in a temp dir.
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "onchainkms/signer/v1/config.pb.h"
#include "onchainkms/signer/v1/policy.pb.h"
#include "onchainkms/signer/v1/signer.grpc.pb.h"
#include "rpc/config_file.h"
#include "rpc/testing/server_process.h"

namespace {

namespace v1 = onchainkms::signer::v1;
using rpc::testing::RunfilePath;
using rpc::testing::ServerProcess;
using rpc::testing::ShortTempDir;
using ::testing::HasSubstr;

const std::string& SignerBinary() {
  static const std::string path = RunfilePath("signer/signer");
  return path;
}

TEST(SignerProcessTest, ServesHealthAndAnswersUnimplementedThenStopsOnSigterm) {
  ShortTempDir dir;
  const std::string socket = dir.path() + "/signer.sock";
  const std::string address = "unix:" + socket;
  absl::StatusOr<std::unique_ptr<ServerProcess>> signer =
      ServerProcess::Start(SignerBinary(), {"--listen=" + address});
  ASSERT_TRUE(signer.ok()) << signer.status();
  ASSERT_TRUE((*signer)->WaitUntilServing(address).ok());
  EXPECT_EQ(*rpc::testing::CheckHealth(address, "onchainkms.signer.v1.Signer"), "SERVING");

  struct stat st;
  ASSERT_EQ(::stat(socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "default socket mode";

  {
    auto stub = v1::Signer::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    v1::ListKeysResponse response;
    const grpc::Status status = stub->ListKeys(&context, v1::ListKeysRequest(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
    EXPECT_THAT(status.error_message(), HasSubstr("ListKeys"));
    EXPECT_THAT(status.error_message(), HasSubstr("issue #4"));
  }  // Close the channel: an idle sync client notices the server's GOAWAY only at gRPC's 5 s
     // backup poll, and a graceful shutdown waits (up to its grace) for connections to close.

  absl::StatusOr<int> exit_code = (*signer)->Stop(SIGTERM);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
  EXPECT_NE(::access(socket.c_str(), F_OK), 0) << "socket removed on shutdown";
}

TEST(SignerProcessTest, ConfigFileListenSectionAndModeFlag) {
  ShortTempDir dir;
  const std::string socket = dir.path() + "/cfg.sock";
  const std::string config = dir.path() + "/signer.json";
  std::FILE* f = std::fopen(config.c_str(), "w");
  std::fprintf(f, R"({"listen": {"unix": {"path": "%s", "mode": "0640"}}, "keystoreDir": "/nonexistent"})",
               socket.c_str());
  std::fclose(f);
  absl::StatusOr<std::unique_ptr<ServerProcess>> signer =
      ServerProcess::Start(SignerBinary(), {"--config=" + config, "--socket_mode=0660"});
  ASSERT_TRUE(signer.ok());
  ASSERT_TRUE((*signer)->WaitUntilServing("unix:" + socket).ok());
  struct stat st;
  ASSERT_EQ(::stat(socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u) << "the flag wins over the file";
  EXPECT_EQ(*(*signer)->Stop(SIGINT), 0);
}

TEST(SignerProcessTest, RefusesPlaintextTcpOffLoopbackAndBadConfig) {
  ShortTempDir dir;
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--listen=0.0.0.0:0"},
           {"--listen=127.0.0.1:0"},  // loopback, but without --insecure_loopback
           {"--listen=0.0.0.0:0", "--insecure_loopback"},
           {"--listen=unix:" + dir.path() + "/x.sock", "--socket_mode=999"},
           {"--config=/nonexistent/signer.textproto"},
       }) {
    absl::StatusOr<std::unique_ptr<ServerProcess>> signer = ServerProcess::Start(SignerBinary(), args);
    ASSERT_TRUE(signer.ok());
    absl::StatusOr<int> code = (*signer)->Stop(0 /* no signal: just wait */, absl::Seconds(15));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 2) << args[0];
  }
}

TEST(SignerProcessTest, PlaintextLoopbackTcpWithTheExplicitFlag) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> signer =
      ServerProcess::Start(SignerBinary(), {"--listen=127.0.0.1:0", "--insecure_loopback"});
  ASSERT_TRUE(signer.ok());
  // Port 0: the real port is only in the log; here it is enough that it starts and stays up.
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_FALSE((*signer)->Exited());
  EXPECT_EQ(*(*signer)->Stop(SIGTERM), 0);
}

TEST(SignerExamplesTest, ExampleConfigAndPolicyParse) {
  v1::SignerConfig config;
  ASSERT_TRUE(rpc::LoadConfigFile(RunfilePath("signer/signer.example.textproto"), &config).ok());
  EXPECT_EQ(config.listen().unix().mode(), "0660");
  v1::Policy policy;
  absl::Status s = rpc::LoadConfigFile(RunfilePath("signer/policy.example.textproto"), &policy);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(policy.chains_size(), 2);
  EXPECT_TRUE(policy.chains(0).any_app());
}

}  // namespace
