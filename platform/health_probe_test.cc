// health_probe (the real binary) against a real gRPC server behind a TCP front that holds each
// connection 1.5 s before relaying: a handshake on a loaded node. The probe must wait for it
// within --timeout, not cut the attempt short and retry ("tcp handshaker shutdown"): it is the
// orchestrator's liveness probe over mTLS in deploy/k8s, where a failed probe restarts the pod.
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "platform/health_service.h"
#include "platform/testing/openssl_pki.h"
#include "platform/testing/server_process.h"
#include "platform/testing/tcp_front.h"

namespace platform {
namespace {

class HealthProbeSlowHandshakeTest : public ::testing::Test {
 protected:
  // Starts a server with `credentials` on 127.0.0.1 whose whole-server status is SERVING.
  void Serve(const std::shared_ptr<grpc::ServerCredentials>& credentials) {
    health_.SetServingStatus("", HealthService::kServing);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", credentials, &port_);
    builder.RegisterService(&health_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // A CA and a server certificate for 127.0.0.1.
  std::shared_ptr<grpc::ServerCredentials> TlsCredentials() {
    EXPECT_TRUE(testing::MakeOpensslPki(dir_.path()).ok());
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({Read("server.key"), Read("server.pem")});
    return grpc::SslServerCredentials(ssl);
  }
  std::string Read(const std::string& name) {
    std::ifstream in(dir_.path() + "/" + name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // Runs health_probe against the server through a front holding each connection 1.5 s.
  void ExpectServingThroughSlowFront(const std::vector<std::string>& extra_args) {
    testing::TcpFront front(port_, [](int) -> std::variant<testing::Abort, testing::Relay> {
      return testing::Relay{absl::Milliseconds(1500)};
    });
    std::vector<std::string> args = {absl::StrCat("--address=127.0.0.1:", front.port()), "--timeout=10s"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    EXPECT_EQ(*testing::RunProgram(testing::RunfilePath("platform/health_probe"), args, {}), 0);
    EXPECT_EQ(front.accepted(), 1) << "connection attempts were cut short and retried";
  }

  testing::ShortTempDir dir_;
  HealthService health_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(HealthProbeSlowHandshakeTest, Tls) {
  if (!testing::HaveOpenssl()) GTEST_SKIP() << "needs the openssl command";
  Serve(TlsCredentials());
  ExpectServingThroughSlowFront({"--tls_ca_file=" + dir_.path() + "/ca.pem"});
}

TEST_F(HealthProbeSlowHandshakeTest, Plaintext) {
  Serve(grpc::InsecureServerCredentials());
  ExpectServingThroughSlowFront({});
}

// Liveness vs readiness: a server that answers NOT_SERVING (the orchestrator while its signer,
// journal or chain RPCs are down) is not ready, but alive; restarting it would not help, and in
// Kubernetes would turn a dependency's outage into a restart loop of every pod.
TEST_F(HealthProbeSlowHandshakeTest, AliveWhenTheServerAnswersEvenNotServing) {
  Serve(grpc::InsecureServerCredentials());
  health_.SetServingStatus("", HealthService::kNotServing);
  const std::string probe = testing::RunfilePath("platform/health_probe");
  const std::string address = absl::StrCat("--address=127.0.0.1:", port_);
  EXPECT_EQ(*testing::RunProgram(probe, {address, "--quiet"}, {}), 4);  // not ready
  EXPECT_EQ(*testing::RunProgram(probe, {address, "--quiet", "--alive"}, {}), 0);
  server_->Shutdown();
  server_.reset();
  EXPECT_EQ(*testing::RunProgram(probe, {address, "--quiet", "--alive", "--timeout=2s"}, {}), 2);  // no answer
}

}  // namespace
}  // namespace platform
