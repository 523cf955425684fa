// Who may call the orchestrator process, and the identity recorded on each operation: bearer
// tokens over TLS ("token:<name>"), an mTLS client-certificate allowlist ("cert:<name>"),
// plaintext only on loopback behind --insecure_loopback ("insecure"), peer uid on a Unix socket
// (covered by the other e2e tests: "uid:<n>"). Certificates come from the openssl CLI.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "orchestrator/e2e/stack.h"
#include "orchestrator/e2e/test_pki.h"
#include "platform/testing/server_process.h"

namespace orchestrator::e2e {
namespace {

using platform::testing::RunfilePath;
using ::testing::HasSubstr;

void Write(const std::string& path, const std::string& content, mode_t mode = 0600) {
  { std::ofstream(path) << content; }
  ::chmod(path.c_str(), mode);
}

class AuthE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new platform::testing::ShortTempDir();
    const std::string d = dir_->path();
    ASSERT_TRUE(MakeTestPki(d, {"ci-client", "intruder"}).ok());
    Write(d + "/api-key", "phak_test\n");
    Write(d + "/tokens", "# name sha256\n" + BearerTokenLine("ci", "tok-ci"));
  }
  static void TearDownTestSuite() { delete dir_; }

  // Starts the orchestrator with `listen` (a text-proto listen section) and extra flags; returns
  // the address it serves on, or "" if it exited (exit code in *code).
  std::string Start(const std::string& listen, const std::vector<std::string>& flags, int* code = nullptr) {
    const std::string d = dir_->path();
    ::unlink((d + "/journal.sqlite").c_str());
    ::unlink((d + "/o.log").c_str());
    Write(
        d + "/o.textproto",
        absl::StrCat(listen, "\nphala_cloud { base_url: \"http://127.0.0.1:9/api/v1\" api_key_file: \"", d,
                     "/api-key\" }\njournal_path: \"", d, "/journal.sqlite\"\ntransient_retry_timeout { seconds: 1 }\n",
                     // Admins: their update of a CVM nobody owns is accepted (orchestrator/README.md,
                     // "Who owns which CVM and app"), so each identity can create an operation.
                     "access { admins: \"token:ci\" admins: \"cert:ci-client\" admins: \"insecure\" }\n"),
        0644);
    std::vector<std::string> args = {"--config=" + d + "/o.textproto"};
    args.insert(args.end(), flags.begin(), flags.end());
    absl::StatusOr<std::unique_ptr<Child>> c =
        Child::Spawn(RunfilePath("orchestrator/orchestrator"), args, {}, d + "/o.log");
    EXPECT_TRUE(c.ok());
    child_ = *std::move(c);
    const std::regex serving("serving on ([^\\s]+)");
    for (int i = 0; i < 500; ++i) {
      std::smatch m;
      const std::string log = ReadTextFile(d + "/o.log");
      if (std::regex_search(log, m, serving)) return m[1].str();
      if (child_->Exited()) {
        if (code != nullptr) *code = *child_->Wait(absl::Seconds(1));
        return "";
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << ReadTextFile(d + "/o.log");
    return "";
  }

  std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& client = "") {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = ReadTextFile(dir_->path() + "/ca.pem");
    if (!client.empty()) {
      o.pem_private_key = ReadTextFile(dir_->path() + "/" + client + ".key");
      o.pem_cert_chain = ReadTextFile(dir_->path() + "/" + client + ".pem");
    }
    return grpc::SslCredentials(o);
  }

  // Creates an operation (it fails later: no Phala Cloud here) and returns its recorded caller.
  static grpc::Status Create(v1::Orchestrator::Stub& stub, const std::string& token, v1::Operation* op) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    v1::UpdateDockerComposeRequest r;
    r.set_request_id("auth-1");
    r.set_cvm_id("some-cvm");
    r.set_docker_compose_file("services: {}\n");
    return stub.UpdateDockerCompose(&ctx, r, op);
  }

  static platform::testing::ShortTempDir* dir_;
  std::unique_ptr<Child> child_;
};

platform::testing::ShortTempDir* AuthE2eTest::dir_ = nullptr;

TEST_F(AuthE2eTest, BearerTokensOverTls) {
  const std::string d = dir_->path();
  const std::string addr =
      Start(absl::StrCat("listen { tcp { address: \"127.0.0.1:0\" tls { cert_file: \"", d, "/server.pem\" key_file: \"",
                         d, "/server.key\" } bearer_tokens_file: \"", d, "/tokens\" } }"),
            {});
  ASSERT_FALSE(addr.empty());
  const std::string port = addr.substr(addr.rfind(':') + 1);
  auto stub = v1::Orchestrator::NewStub(grpc::CreateChannel("localhost:" + port, Tls()));
  v1::Operation op;
  grpc::Status s = Create(*stub, "tok-ci", &op);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(op.caller(), "token:ci");
  EXPECT_EQ(Create(*stub, "wrong", &op).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Create(*stub, "", &op).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Plaintext to a TLS port does not get through.
  auto plain = v1::Orchestrator::NewStub(grpc::CreateChannel("127.0.0.1:" + port, grpc::InsecureChannelCredentials()));
  EXPECT_EQ(Create(*plain, "tok-ci", &op).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(*child_->Stop(SIGTERM), 0);
}

TEST_F(AuthE2eTest, MutualTlsAllowlist) {
  const std::string d = dir_->path();
  const std::string addr = Start(
      absl::StrCat("listen { tcp { address: \"127.0.0.1:0\" tls { cert_file: \"", d, "/server.pem\" key_file: \"", d,
                   "/server.key\" client_ca_file: \"", d, "/ca.pem\" allowed_client_names: \"ci-client\" } } }"),
      {});
  ASSERT_FALSE(addr.empty());
  const std::string port = addr.substr(addr.rfind(':') + 1);
  auto good = v1::Orchestrator::NewStub(grpc::CreateChannel("localhost:" + port, Tls("ci-client")));
  v1::Operation op;
  grpc::Status s = Create(*good, "", &op);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(op.caller(), "cert:ci-client");
  auto intruder = v1::Orchestrator::NewStub(grpc::CreateChannel("localhost:" + port, Tls("intruder")));
  EXPECT_EQ(Create(*intruder, "", &op).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  auto anonymous = v1::Orchestrator::NewStub(grpc::CreateChannel("localhost:" + port, Tls()));
  EXPECT_NE(Create(*anonymous, "", &op).error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(*child_->Stop(SIGTERM), 0);
}

TEST_F(AuthE2eTest, PlaintextOnlyOnLoopbackWithTheFlag) {
  int code = 0;
  EXPECT_EQ(Start("listen { tcp { address: \"0.0.0.0:0\" } }", {}, &code), "");
  EXPECT_EQ(code, 2);
  EXPECT_EQ(Start("listen { tcp { address: \"127.0.0.1:0\" } }", {}, &code), "");
  EXPECT_EQ(code, 2);
  EXPECT_EQ(Start(absl::StrCat("listen { tcp { address: \"127.0.0.1:0\" tls { cert_file: \"", dir_->path(),
                               "/server.pem\" key_file: \"", dir_->path(), "/server.key\" } } }"),
                  {}, &code),
            "")
      << "TLS without any client authentication is refused";
  EXPECT_EQ(code, 2);
  const std::string addr = Start("listen { tcp { address: \"127.0.0.1:0\" insecure_loopback: true } }", {});
  ASSERT_FALSE(addr.empty());
  auto stub = v1::Orchestrator::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  v1::Operation op;
  ASSERT_TRUE(Create(*stub, "", &op).ok());
  EXPECT_EQ(op.caller(), "insecure");
  EXPECT_EQ(*child_->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace orchestrator::e2e
