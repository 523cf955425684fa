// Runs the real orchestrator binary as a child process on a Unix socket, with a journal but no
// chains and an unreachable Phala Cloud: health, validation, NOT_FOUND, the journal lock,
// graceful shutdown, the unix peer allowlist.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "onchainkms/orchestrator/v1/config.pb.h"
#include "onchainkms/orchestrator/v1/orchestrator.grpc.pb.h"
#include "orchestrator/access/access_policy.h"
#include "platform/config_file.h"
#include "platform/http/client.h"
#include "platform/http/testing/prometheus_text.h"
#include "platform/testing/server_process.h"

namespace {

namespace v1 = onchainkms::orchestrator::v1;
using platform::testing::RunfilePath;
using platform::testing::ServerProcess;
using platform::testing::ShortTempDir;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

class OrchestratorProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    address_ = "unix:" + dir_.path() + "/orchestrator.sock";
    { std::ofstream(dir_.path() + "/api-key") << "phak_test_key\n"; }
    ::chmod((dir_.path() + "/api-key").c_str(), 0600);
    process_ = Start(address_);
    ASSERT_NE(process_, nullptr);
    ASSERT_TRUE(process_->WaitUntilServing(address_).ok());
    stub_ = v1::Orchestrator::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<ServerProcess> Start(const std::string& address, const std::string& output_path = "") {
    absl::StatusOr<std::unique_ptr<ServerProcess>> p = ServerProcess::Start(
        RunfilePath("orchestrator/orchestrator"),
        {"--listen=" + address, "--journal_path=" + dir_.path() + "/journal.sqlite",
         "--phala_cloud_base_url=http://127.0.0.1:9/api/v1", "--phala_cloud_api_key_file=" + dir_.path() + "/api-key"},
        output_path);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }

  ShortTempDir dir_;
  std::string address_;
  std::unique_ptr<ServerProcess> process_;
  std::unique_ptr<v1::Orchestrator::Stub> stub_;
};

TEST_F(OrchestratorProcessTest, HealthOfTheServiceIsServing) {
  EXPECT_EQ(*platform::testing::CheckHealth(address_, "onchainkms.orchestrator.v1.Orchestrator"), "SERVING");
  EXPECT_EQ(*platform::testing::CheckHealth(address_, ""), "SERVING");
}

TEST_F(OrchestratorProcessTest, BadRequestNamesTheField) {
  grpc::ClientContext context;
  v1::UpdateDockerComposeRequest request;
  request.set_request_id("r-1");
  request.set_cvm_id("app_0000000000000000000000000000000000000001");
  v1::Operation operation;
  const grpc::Status status = stub_->UpdateDockerCompose(&context, request, &operation);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("docker_compose_file: required"));
}

TEST_F(OrchestratorProcessTest, UnknownOperationIsNotFound) {
  {
    grpc::ClientContext context;
    v1::GetOperationRequest request;
    request.set_operation_id("op_missing");
    v1::Operation operation;
    EXPECT_EQ(stub_->GetOperation(&context, request, &operation).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  grpc::ClientContext context;
  v1::WatchOperationRequest request;
  request.set_operation_id("op_missing");
  auto reader = stub_->WatchOperation(&context, request);
  v1::OperationEvent event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(OrchestratorProcessTest, ListOnAnEmptyJournal) {
  grpc::ClientContext context;
  v1::ListOperationsResponse response;
  ASSERT_TRUE(stub_->ListOperations(&context, v1::ListOperationsRequest(), &response).ok());
  EXPECT_EQ(response.operations_size(), 0);
  EXPECT_TRUE(response.next_page_token().empty());
}

TEST_F(OrchestratorProcessTest, GracefulShutdownOnSigintAndSigterm) {
  EXPECT_EQ(*process_->Stop(SIGINT), 0);
  EXPECT_NE(::access((dir_.path() + "/orchestrator.sock").c_str(), F_OK), 0);
  std::unique_ptr<ServerProcess> again = Start(address_);
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->WaitUntilServing(address_).ok());
  EXPECT_EQ(*again->Stop(SIGTERM), 0);
}

TEST_F(OrchestratorProcessTest, SecondInstanceOnTheSameJournalIsRefused) {
  // Same journal, another socket: the journal's process lock refuses it, naming the journal.
  const std::string output = dir_.path() + "/second.out";
  std::unique_ptr<ServerProcess> second = Start("unix:" + dir_.path() + "/other.sock", output);
  ASSERT_NE(second, nullptr);
  absl::StatusOr<int> code = second->Stop(0, absl::Seconds(15));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1);
  std::stringstream printed;
  printed << std::ifstream(output).rdbuf();
  EXPECT_THAT(printed.str(), HasSubstr(dir_.path() + "/journal.sqlite is in use by another process"));
  EXPECT_THAT(printed.str(), HasSubstr(absl::StrCat("by pid ", process_->pid())));
  EXPECT_EQ(*platform::testing::CheckHealth(address_, ""), "SERVING") << "the first one keeps running";
  grpc::ClientContext context;
  v1::ListOperationsResponse response;
  EXPECT_TRUE(stub_->ListOperations(&context, v1::ListOperationsRequest(), &response).ok()) << "and serves";
}

// listen.unix.allowed_peer_uids: the socket file lets anyone connect, SO_PEERCRED decides; a
// health probe run as nobody (setpriv) is refused, our own uid is not.
TEST(OrchestratorPeerAllowlistTest, RefusesAUidNotOnTheList) {
  if (::geteuid() != 0 || ::access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "needs root and setpriv";
  ShortTempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  const std::string probe = dir.path() + "/probe";
  std::filesystem::copy_file(RunfilePath("platform/health_probe"), probe);
  ::chmod(probe.c_str(), 0755);
  std::ofstream(dir.path() + "/api-key") << "phak_test_key\n";
  ::chmod((dir.path() + "/api-key").c_str(), 0600);
  const std::string socket = dir.path() + "/peers.sock";
  std::ofstream(dir.path() + "/config.textproto")
      << "listen { unix { path: \"" << socket << "\" mode: \"0666\" allowed_peer_uids: 4242 } }\n";
  absl::StatusOr<std::unique_ptr<ServerProcess>> p = ServerProcess::Start(
      RunfilePath("orchestrator/orchestrator"),
      {"--config=" + dir.path() + "/config.textproto", "--journal_path=" + dir.path() + "/journal.sqlite",
       "--phala_cloud_base_url=http://127.0.0.1:9/api/v1", "--phala_cloud_api_key_file=" + dir.path() + "/api-key"});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE((*p)->WaitUntilServing("unix:" + socket).ok());
  EXPECT_EQ(*platform::testing::RunProgram(probe, {"--address=unix:" + socket}, {}), 0);
  EXPECT_NE(
      *platform::testing::RunProgram(
          "/usr/bin/setpriv",
          {"--reuid=65534", "--regid=65534", "--clear-groups", probe, "--address=unix:" + socket, "--timeout=1s"}, {}),
      0);
  EXPECT_EQ(*(*p)->Stop(SIGTERM), 0);
}

std::string ReadProcFile(pid_t pid, const std::string& name) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/", name), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The orchestrator holds the Phala Cloud API key and env values in flight: no core files, and an
// API key taken from the environment is gone from /proc/<pid>/environ once read.
TEST(OrchestratorHardeningTest, NoCoreFilesAndTheApiKeyLeavesTheEnvironment) {
  ShortTempDir dir;
  const std::string address = "unix:" + dir.path() + "/o.sock";
  const std::string key = "phak_environment_only_4f1c9e";
  ::setenv("PHALA_CLOUD_API_KEY", key.c_str(), 1);
  absl::StatusOr<std::unique_ptr<ServerProcess>> p =
      ServerProcess::Start(RunfilePath("orchestrator/orchestrator"),
                           {"--listen=" + address, "--journal_path=" + dir.path() + "/journal.sqlite",
                            "--phala_cloud_base_url=http://127.0.0.1:9/api/v1"});
  ::unsetenv("PHALA_CLOUD_API_KEY");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE((*p)->WaitUntilServing(address).ok());
  const std::string environ = ReadProcFile((*p)->pid(), "environ");
  EXPECT_THAT(environ, HasSubstr("PATH=")) << "environ was read";
  EXPECT_THAT(environ, Not(HasSubstr(key)));
  EXPECT_THAT(ReadProcFile((*p)->pid(), "limits"), ContainsRegex("Max core file size +0 +0 "));
  EXPECT_EQ(*(*p)->Stop(SIGTERM), 0);
}

TEST(OrchestratorExamplesTest, ExampleConfigParses) {
  v1::OrchestratorConfig config;
  absl::Status s = platform::LoadConfigFile(RunfilePath("orchestrator/orchestrator.example.textproto"), &config);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(config.chains_size(), 2);
  EXPECT_EQ(config.chains(0).kms_type(), v1::KMS_TYPE_BASE);
  EXPECT_EQ(config.chains(0).rpc_endpoints_size(), 2);
  EXPECT_EQ(config.signer().address(), "unix:/run/onchain-kms/signer.sock");
  EXPECT_EQ(config.log_level(), "info");
  absl::StatusOr<::orchestrator::access::AccessPolicy> policy =
      ::orchestrator::access::AccessPolicy::Compile(config, std::nullopt);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->ResolveKey("cert:deployer.platform.example").tenant, "platform");
}

// A bad access section is a bad config (exit 2) naming the field path and both places of an
// identity listed twice; nothing starts.
TEST(OrchestratorStartTest, BadAccessSectionNamesTheField) {
  ShortTempDir dir;
  const std::string d = dir.path();
  { std::ofstream(d + "/api-key") << "phak_test_key\n"; }
  ::chmod((d + "/api-key").c_str(), 0600);
  {
    std::ofstream(d + "/o.textproto") << "listen { unix { path: \"" << d << "/o.sock\" } }\n"
                                      << "phala_cloud { base_url: \"http://127.0.0.1:9/api/v1\" api_key_file: \"" << d
                                      << "/api-key\" }\njournal_path: \"" << d << "/j.sqlite\"\n"
                                      << "access { admins: \"token:ops\" tenants { name: \"a\" "
                                         "members: \"token:ops\" } }\n";
  }
  absl::StatusOr<int> code = platform::testing::RunProgram(
      "/bin/sh",
      {"-c", absl::StrCat(RunfilePath("orchestrator/orchestrator"), " --config=", d, "/o.textproto 2>", d, "/err")}, {},
      absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 2);
  std::ifstream in(d + "/err");
  std::stringstream err;
  err << in.rdbuf();
  EXPECT_THAT(err.str(), HasSubstr("access.tenants[0].members[0]: \\\"token:ops\\\" is already access.admins[0]"))
      << err.str();
  EXPECT_FALSE(std::filesystem::exists(d + "/o.sock"));
}

// A bearer tokens file on a plaintext listener (tokens only checked over TLS) would be ignored and
// every caller admitted as "insecure": exit 2 naming the field, nothing listens.
TEST(OrchestratorStartTest, BearerTokensOnAPlaintextListenerAreRefused) {
  ShortTempDir dir;
  const std::string d = dir.path();
  { std::ofstream(d + "/api-key") << "phak_test_key\n"; }
  ::chmod((d + "/api-key").c_str(), 0600);
  { std::ofstream(d + "/tokens") << "ops 0000000000000000000000000000000000000000000000000000000000000000\n"; }
  const int port = platform::testing::FreeTcpPort();
  {
    std::ofstream(d + "/o.textproto") << "listen { tcp { address: \"127.0.0.1:" << port
                                      << "\" insecure_loopback: true bearer_tokens_file: \"" << d << "/tokens\" } }\n"
                                      << "phala_cloud { base_url: \"http://127.0.0.1:9/api/v1\" api_key_file: \"" << d
                                      << "/api-key\" }\njournal_path: \"" << d << "/j.sqlite\"\n";
  }
  for (const std::string& extra : {std::string(), absl::StrCat(" --listen=unix:", d, "/o.sock")}) {
    absl::StatusOr<int> code =
        platform::testing::RunProgram("/bin/sh",
                                      {"-c", absl::StrCat(RunfilePath("orchestrator/orchestrator"), " --config=", d,
                                                          "/o.textproto", extra, " 2>", d, "/err")},
                                      {}, absl::Seconds(30));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 2) << extra;
    std::ifstream in(d + "/err");
    std::stringstream err;
    err << in.rdbuf();
    EXPECT_THAT(err.str(), HasSubstr("listen.tcp.bearer_tokens_file")) << err.str();
    EXPECT_THAT(err.str(), HasSubstr("only checked over TLS")) << err.str();
    EXPECT_FALSE(std::filesystem::exists(d + "/o.sock"));
  }
}

// --metrics_port (or metrics_port in the config): the Prometheus endpoint of the process.
TEST_F(OrchestratorProcessTest, ServesMetricsOnTheMetricsPort) {
  process_.reset();  // restarted with the endpoint
  const int port = platform::testing::FreeTcpPort();
  absl::StatusOr<std::unique_ptr<ServerProcess>> p = ServerProcess::Start(
      RunfilePath("orchestrator/orchestrator"),
      {"--listen=" + address_, "--journal_path=" + dir_.path() + "/journal.sqlite",
       "--phala_cloud_base_url=http://127.0.0.1:9/api/v1", "--phala_cloud_api_key_file=" + dir_.path() + "/api-key",
       absl::StrCat("--metrics_port=", port)});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE((*p)->WaitUntilServing(address_).ok());
  absl::StatusOr<platform::http::Url> url = platform::http::ParseUrl(absl::StrCat("http://127.0.0.1:", port));
  ASSERT_TRUE(url.ok());
  absl::StatusOr<std::unique_ptr<platform::http::Client>> client = platform::http::Client::Create(*url, {});
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<platform::http::Response> r = (*client)->Send({.target = "/metrics"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  absl::StatusOr<platform::http::testing::Exposition> e = platform::http::testing::ParsePrometheusText(r->body);
  ASSERT_TRUE(e.ok()) << e.status() << "\n" << r->body;
  EXPECT_EQ(e->samples["orchestrator_operations_started_total{kind=\"deploy_cvm\"}"], 0);
  EXPECT_EQ(e->types["orchestrator_journal_write_duration_seconds"], "histogram");
  absl::StatusOr<platform::http::Response> other = (*client)->Send({.target = "/"});
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->status, 404);
}

TEST(OrchestratorStartTest, BadLogLevelIsABadCommandLine) {
  absl::StatusOr<int> code = platform::testing::RunProgram(RunfilePath("orchestrator/orchestrator"),
                                                           {"--log_level=loud"}, {}, absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 2);
}

}  // namespace
