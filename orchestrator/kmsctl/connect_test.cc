// kmsctl's connection over TCP + TLS when connecting is slow or fails at first, with real sockets:
// an orchestrator stand-in (a gRPC server with TLS on 127.0.0.1) behind a TCP front that, per
// accepted connection, closes it at once (a handshake that fails) or holds it before relaying (a
// TLS handshake on a loaded machine). Queries must ride through both within --rpc-timeout, and
// give up with the address named.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "orchestrator/e2e/test_pki.h"
#include "orchestrator/kmsctl/cli.h"
#include "orchestrator/kmsctl/exit_codes.h"
#include "orchestrator/kmsctl/runner.h"
#include "platform/testing/tcp_front.h"

namespace kmsctl {
namespace {

using ::testing::HasSubstr;

class Orchestrator final : public v1::Orchestrator::Service {
 public:
  grpc::Status GetOperation(grpc::ServerContext*, const v1::GetOperationRequest* r, v1::Operation* o) override {
    o->set_id(r->operation_id());
    o->set_state(v1::OPERATION_STATE_SUCCEEDED);
    return grpc::Status::OK;
  }
  grpc::Status ListOperations(grpc::ServerContext*, const v1::ListOperationsRequest*,
                              v1::ListOperationsResponse* o) override {
    o->add_operations()->set_id("op_listed");
    return grpc::Status::OK;
  }
};

using ::platform::testing::Abort;
using ::platform::testing::Relay;
using Front = ::platform::testing::TcpFront;

class ConnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/pki");
    ASSERT_EQ(std::system(("mkdir -p " + dir_).c_str()), 0);
    ASSERT_TRUE(orchestrator::e2e::MakeTestPki(dir_, {}).ok());
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back(
        {orchestrator::e2e::ReadTextFile(dir_ + "/server.key"), orchestrator::e2e::ReadTextFile(dir_ + "/server.pem")});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &backend_port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(); }

  // Runs kmsctl with `args` against `front` as main.cc does (its channel, its retries).
  int Kmsctl(const Front& front, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {absl::StrCat("--orchestrator=127.0.0.1:", front.port()),
                                     absl::StrCat("--tls-ca=", dir_, "/ca.pem")};
    argv.insert(argv.end(), args.begin(), args.end());
    std::variant<Invocation, CliError> parsed = ParseCommandLine(argv, SystemIo());
    if (auto* e = std::get_if<CliError>(&parsed)) {
      ADD_FAILURE() << e->message;
      return -1;
    }
    const Invocation& inv = std::get<Invocation>(parsed);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(inv.connection, SystemIo());
    if (!channel.ok()) {
      ADD_FAILURE() << channel.status();
      return -1;
    }
    std::unique_ptr<v1::Orchestrator::Stub> stub = v1::Orchestrator::NewStub(*channel);
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    Interrupter interrupter;
    const int code = ::kmsctl::Run(inv, *stub, out, err, interrupter);
    out_ = Slurp(out);
    err_ = Slurp(err);
    return code;
  }

  static std::string Slurp(std::FILE* f) {
    std::rewind(f);
    std::string text;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) text.append(buf, n);
    std::fclose(f);
    return text;
  }

  std::string dir_;
  Orchestrator service_;
  std::unique_ptr<grpc::Server> server_;
  int backend_port_ = 0;
  std::string out_;
  std::string err_;
};

// The orchestrator not there yet / handshakes that fail: the first 7 connections are closed at
// once, for longer (gRPC's reconnect back-off, jittered by 20%: ~0.1+0.16+0.26+0.41+0.66+1.05 s)
// than the four quick attempts kmsctl made before (1.75 s). A query rides through within --rpc-timeout.
TEST_F(ConnectTest, QueryRetriesFailedConnectionsWithinItsDeadline) {
  Front front(backend_port_, [](int n) -> std::variant<Abort, Relay> {
    if (n <= 7) return Abort{};
    return Relay{absl::ZeroDuration()};
  });
  EXPECT_EQ(Kmsctl(front, {"--rpc-timeout=30s", "ops", "get", "op_1"}), kExitOk) << err_;
  EXPECT_THAT(out_, HasSubstr("op_1"));
  EXPECT_GT(front.accepted(), 7);
}

// A TLS handshake that takes 1.5 s (a loaded machine) completes on the first connection: gRPC
// was told to cut a connection attempt after 100 ms ("tcp handshaker shutdown").
TEST_F(ConnectTest, SlowHandshakeIsNotCutShort) {
  Front front(backend_port_, [](int) -> std::variant<Abort, Relay> { return Relay{absl::Milliseconds(1500)}; });
  EXPECT_EQ(Kmsctl(front, {"--rpc-timeout=30s", "ops", "list"}), kExitOk) << err_;
  EXPECT_THAT(out_, HasSubstr("op_listed"));
  EXPECT_EQ(front.accepted(), 1) << "connection attempts were cut short and retried";
}

// Nobody ever completes a handshake: the query gives up once --rpc-timeout is spent, exit 6,
// naming the address and how long it tried.
TEST_F(ConnectTest, GivesUpAfterTheDeadlineNamingTheAddress) {
  Front front(backend_port_, [](int) -> std::variant<Abort, Relay> { return Abort{}; });
  const absl::Time start = absl::Now();
  EXPECT_EQ(Kmsctl(front, {"--rpc-timeout=3s", "ops", "get", "op_3"}), kExitUnavailable);
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Seconds(2)) << "gave up before its deadline";
  EXPECT_LE(took, absl::Seconds(8));
  EXPECT_THAT(err_, HasSubstr(absl::StrCat("getting operation op_3: UNAVAILABLE: cannot reach the orchestrator at ",
                                           "127.0.0.1:", front.port(), ": ")));
  EXPECT_THAT(err_, HasSubstr("(gave up after "));
  EXPECT_GT(front.accepted(), 1);
}

}  // namespace
}  // namespace kmsctl
