#include "platform/transport/transport.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "crypto/sha256.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "onchainkms/signer/v1/signer.grpc.pb.h"
#include "platform/testing/openssl_pki.h"
#include "platform/testing/server_process.h"
#include "platform/testing/wait_for.h"

namespace platform {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;
namespace signer_v1 = onchainkms::signer::v1;

// A service that answers ListKeys with who called: one key whose label is the journal key and
// whose address is the log form.
class WhoAmI final : public signer_v1::Signer::CallbackService {
 public:
  explicit WhoAmI(const Authenticator& auth) : auth_(auth) {}
  grpc::ServerUnaryReactor* ListKeys(grpc::CallbackServerContext* context, const signer_v1::ListKeysRequest*,
                                     signer_v1::ListKeysResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::StatusOr<Caller> caller = auth_.Authenticate(*context);
    if (!caller.ok()) {
      reactor->Finish(
          grpc::Status(static_cast<grpc::StatusCode>(caller.status().code()), std::string(caller.status().message())));
      return reactor;
    }
    signer_v1::Key* key = response->add_keys();
    key->set_label(caller->JournalKey());
    key->set_address(caller->ToString());
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const Authenticator& auth_;
};

// A transport serving WhoAmI.
struct Served {
  std::unique_ptr<Transport> transport;
  std::unique_ptr<WhoAmI> service;
};

Served ServeOrDie(TransportOptions options) {
  Served s;
  absl::StatusOr<std::unique_ptr<Transport>> t = Transport::Create(std::move(options));
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return s;
  s.transport = *std::move(t);
  s.service = std::make_unique<WhoAmI>(*s.transport);
  absl::Status serving = s.transport->Serve({{signer_v1::Signer::service_full_name(), s.service.get()}});
  EXPECT_TRUE(serving.ok()) << serving;
  if (!serving.ok()) s.transport.reset();
  return s;
}

std::unique_ptr<Transport> StartOrDie(const ListenOptions& listen) {
  absl::StatusOr<std::unique_ptr<Transport>> t = Transport::Start({.listen = listen}, {});
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

// Calls WhoAmI; the caller's journal key, or the error.
absl::StatusOr<std::string> WhoAmICall(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials(),
    const std::string& bearer = "") {
  auto stub = signer_v1::Signer::NewStub(grpc::CreateChannel(address, credentials));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  if (!bearer.empty()) context.AddMetadata("authorization", "Bearer " + bearer);
  signer_v1::ListKeysResponse response;
  grpc::Status status = stub->ListKeys(&context, {}, &response);
  if (!status.ok()) return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  return response.keys(0).label();
}

std::unique_ptr<Health::Stub> HealthStub(const std::string& address) {
  return Health::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

TEST(TransportTest, UnixSocketCallerIsThePeerUid) {
  testing::ShortTempDir dir;
  const std::string path = dir.path() + "/s.sock";
  Served s = ServeOrDie({.listen = {.address = "unix:" + path}});
  ASSERT_NE(s.transport, nullptr);
  EXPECT_EQ(s.transport->address(), "unix:" + path);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  EXPECT_EQ(*WhoAmICall(s.transport->address()), absl::StrCat("uid:", ::geteuid()));
  EXPECT_EQ(*testing::CheckHealth(s.transport->address(), ""), "NOT_SERVING");
  EXPECT_EQ(*testing::CheckHealth(s.transport->address(), signer_v1::Signer::service_full_name()), "NOT_SERVING");
  s.transport->health().SetAll(HealthService::kServing);
  EXPECT_EQ(*testing::CheckHealth(s.transport->address(), ""), "SERVING");
  EXPECT_EQ(testing::CheckHealth(s.transport->address(), "no.such.Service").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(s.transport->refused_connections(), 0u);

  s.transport->Shutdown(absl::Seconds(1));
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "socket file should be removed on shutdown";
}

TEST(TransportTest, RestrictedUnixSocketAdmitsOurOwnUid) {
  testing::ShortTempDir dir;
  Served s = ServeOrDie({.listen = {.address = "unix:" + dir.path() + "/r.sock"}, .restrict_unix_peers = true});
  ASSERT_NE(s.transport, nullptr);
  EXPECT_EQ(*WhoAmICall(s.transport->address()), absl::StrCat("uid:", ::geteuid()));
}

// As in signer/signer_process_test.cc: the socket file lets anyone connect, SO_PEERCRED decides;
// a probe run as nobody through setpriv is refused at accept.
TEST(TransportTest, RestrictedUnixSocketRefusesAnotherUid) {
  if (::geteuid() != 0 || ::access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "needs root and setpriv";
  testing::ShortTempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  const std::string probe = dir.path() + "/probe";
  std::filesystem::copy_file(testing::RunfilePath("platform/health_probe"), probe);
  ::chmod(probe.c_str(), 0755);
  absl::Mutex mu;
  std::vector<uid_t> refused;
  TransportOptions options{.listen = {.address = "unix:" + dir.path() + "/n.sock", .unix_mode = 0666},
                           .restrict_unix_peers = true};
  options.on_refused_connection = [&](const Caller::UnixPeer& peer) {
    absl::MutexLock lock(&mu);
    refused.push_back(peer.uid);
  };
  Served s = ServeOrDie(std::move(options));
  ASSERT_NE(s.transport, nullptr);
  s.transport->health().SetAll(HealthService::kServing);
  const std::vector<std::string> as_nobody = {
      "--reuid=65534", "--regid=65534", "--clear-groups", probe, "--address=" + s.transport->address(), "--timeout=1s"};
  EXPECT_NE(*testing::RunProgram("/usr/bin/setpriv", as_nobody, {}), 0);
  EXPECT_EQ(*testing::RunProgram(probe, {"--address=" + s.transport->address()}, {}), 0) << "we still get in";
  EXPECT_GE(s.transport->refused_connections(), 1u);
  absl::MutexLock lock(&mu);
  ASSERT_FALSE(refused.empty());
  EXPECT_EQ(refused[0], 65534u);
}

TEST(TransportTest, SocketModeAndGroupAreApplied) {
  testing::ShortTempDir dir;
  const std::string path = dir.path() + "/g.sock";
  std::unique_ptr<Transport> t =
      StartOrDie({.address = "unix:" + path, .unix_mode = 0660, .unix_group = std::to_string(::getgid())});
  ASSERT_NE(t, nullptr);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST(TransportTest, LiveSocketIsNotStolenAndStaleOneIsReplaced) {
  testing::ShortTempDir dir;
  const std::string address = "unix:" + dir.path() + "/one.sock";
  std::unique_ptr<Transport> first = StartOrDie({.address = address});
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::unique_ptr<Transport>> second = Transport::Start({.listen = {.address = address}}, {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("already listening"));
  first->health().SetAll(HealthService::kServing);
  EXPECT_EQ(*testing::CheckHealth(address, ""), "SERVING");  // the first one still answers
}

TEST(TransportTest, MissingSocketDirectoryIsNamed) {
  absl::StatusOr<std::unique_ptr<Transport>> t =
      Transport::Start({.listen = {.address = "unix:/nonexistent-okms/x.sock"}}, {});
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(t.status().message(), HasSubstr("/nonexistent-okms does not exist"));
}

TEST(TransportTest, TcpRulesAndTheInsecureLoopbackCaller) {
  EXPECT_EQ(Transport::Create({.listen = {.address = "0.0.0.0:0"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Transport::Create({.listen = {.address = "127.0.0.1:0"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  Served s = ServeOrDie({.listen = {.address = "127.0.0.1:0", .insecure_loopback = true}});
  ASSERT_NE(s.transport, nullptr);
  EXPECT_THAT(s.transport->address(), ::testing::StartsWith("127.0.0.1:"));
  EXPECT_NE(s.transport->address(), "127.0.0.1:0");
  EXPECT_EQ(*WhoAmICall(s.transport->address()), "insecure");
}

TEST(TransportTest, TlsListenersMustAuthenticateClients) {
  const TlsFiles no_ca{"cert.pem", "key.pem", ""};
  const TlsFiles ca{"cert.pem", "key.pem", "ca.pem"};
  auto code = [](TransportOptions o) { return Transport::Create(std::move(o)).status().code(); };
  EXPECT_EQ(code({.listen = {.address = "0.0.0.0:0", .tls = no_ca}}), absl::StatusCode::kInvalidArgument)
      << "neither client certificates nor bearer tokens";
  EXPECT_EQ(code({.listen = {.address = "0.0.0.0:0", .tls = ca}}), absl::StatusCode::kInvalidArgument)
      << "client certificates without an allowlist";
  EXPECT_EQ(code({.listen = {.address = "0.0.0.0:0", .tls = ca}, .allowed_client_names = {"ci"}}),
            absl::StatusCode::kOk);
  EXPECT_EQ(code({.listen = {.address = "0.0.0.0:0", .tls = ca}, .allowed_client_cert_sha256 = {"xyz"}}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.listen = {.address = "0.0.0.0:0", .tls = no_ca}, .bearer_tokens_file = "/nonexistent/t"}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.listen = {.address = "unix:/tmp/x.sock", .unix_group = "no-such-group-okms"},
                  .restrict_unix_peers = true}),
            absl::StatusCode::kInvalidArgument);
}

// Bearer tokens are only checked over TLS: on a plaintext or unix listener a tokens file would be
// ignored and every caller admitted ("insecure" / "uid:<n>"), so the configuration is refused.
TEST(TransportTest, BearerTokensWithoutTlsAreRefused) {
  for (const ListenOptions& listen : {ListenOptions{.address = "127.0.0.1:0", .insecure_loopback = true},
                                      ListenOptions{.address = "unix:/tmp/x.sock"}}) {
    absl::Status s = Transport::Create({.listen = listen, .bearer_tokens_file = "/etc/tokens"}).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << listen.address;
    EXPECT_THAT(s.message(), ::testing::HasSubstr("bearer_tokens_file")) << s;
    EXPECT_THAT(s.message(), ::testing::HasSubstr("only checked over TLS")) << s;
  }
}

// A test PKI made with the openssl command: a CA, a server certificate for 127.0.0.1, and the
// client certificates alice and mallory.
class TlsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::HaveOpenssl()) GTEST_SKIP() << "needs the openssl command";
    ASSERT_TRUE(testing::MakeOpensslPki(dir_.path(), {"alice", "mallory"}).ok());
  }
  std::string Read(const std::string& name) {
    std::ifstream in(dir_.path() + "/" + name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::shared_ptr<grpc::ChannelCredentials> Client(const std::string& who) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = Read("ca.pem");
    if (!who.empty()) {
      o.pem_private_key = Read(who + ".key");
      o.pem_cert_chain = Read(who + ".pem");
    }
    return grpc::SslCredentials(o);
  }
  TlsFiles Files(bool client_ca) {
    return {dir_.path() + "/server.pem", dir_.path() + "/server.key", client_ca ? dir_.path() + "/ca.pem" : ""};
  }
  testing::ShortTempDir dir_;
};

TEST_F(TlsTransportTest, ClientCertificatesOnTheAllowlist) {
  Served s = ServeOrDie({.listen = {.address = "127.0.0.1:0", .tls = Files(true)}, .allowed_client_names = {"alice"}});
  ASSERT_NE(s.transport, nullptr);
  EXPECT_EQ(*WhoAmICall(s.transport->address(), Client("alice")), "cert:alice");
  absl::StatusOr<std::string> mallory = WhoAmICall(s.transport->address(), Client("mallory"));
  EXPECT_EQ(mallory.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(mallory.status().message(), HasSubstr("allowlist"));
  EXPECT_FALSE(WhoAmICall(s.transport->address(), Client("")).ok()) << "no client certificate";
}

TEST_F(TlsTransportTest, BearerTokens) {
  const crypto::Sha256Digest d = crypto::Sha256(absl::string_view("s3cret"));
  std::ofstream(dir_.path() + "/tokens") << "ci "
                                         << absl::BytesToHexString(
                                                absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()))
                                         << "\n";
  Served s = ServeOrDie(
      {.listen = {.address = "127.0.0.1:0", .tls = Files(false)}, .bearer_tokens_file = dir_.path() + "/tokens"});
  ASSERT_NE(s.transport, nullptr);
  EXPECT_EQ(*WhoAmICall(s.transport->address(), Client(""), "s3cret"), "token:ci");
  absl::StatusOr<std::string> wrong = WhoAmICall(s.transport->address(), Client(""), "wrong");
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(wrong.status().message(), ::testing::Not(HasSubstr("wrong")));
  EXPECT_EQ(WhoAmICall(s.transport->address(), Client("")).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(TransportTest, WatchStreamsChangesAndEndsOnShutdown) {
  testing::ShortTempDir dir;
  std::unique_ptr<Transport> server = StartOrDie({.address = "unix:" + dir.path() + "/w.sock"});
  ASSERT_NE(server, nullptr);
  auto stub = HealthStub(server->address());

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  HealthCheckRequest request;
  auto reader = stub->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);

  server->health().SetServingStatus("", HealthService::kServing);
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  // Setting the same status again sends nothing; the next change arrives next.
  server->health().SetServingStatus("", HealthService::kServing);
  server->health().SetServingStatus("", HealthService::kNotServing);
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  server->health().SetServingStatus("", HealthService::kServing);
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  std::thread stopper([&] { server->Shutdown(absl::Seconds(5)); });
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(reader->Read(&response));
  EXPECT_TRUE(reader->Finish().ok());
  stopper.join();
}

TEST(TransportTest, WatchOfAnUnknownServiceWaitsForIt) {
  testing::ShortTempDir dir;
  std::unique_ptr<Transport> server = StartOrDie({.address = "unix:" + dir.path() + "/u.sock"});
  ASSERT_NE(server, nullptr);
  auto stub = HealthStub(server->address());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  HealthCheckRequest request;
  request.set_service("later.Service");
  auto reader = stub->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  server->health().SetServingStatus("later.Service", HealthService::kServing);
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST(TransportTest, ManyWatchersAndChurn) {
  testing::ShortTempDir dir;
  std::unique_ptr<Transport> server = StartOrDie({.address = "unix:" + dir.path() + "/m.sock"});
  ASSERT_NE(server, nullptr);
  auto stub = HealthStub(server->address());
  constexpr int kWatchers = 16;
  std::atomic<int> watching{0};  // watchers that got their first answer: connected and registered
  std::vector<std::thread> threads;
  for (int i = 0; i < kWatchers; ++i) {
    threads.emplace_back([&] {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
      auto reader = stub->Watch(&context, HealthCheckRequest());
      HealthCheckResponse response;
      HealthCheckResponse::ServingStatus last = HealthCheckResponse::UNKNOWN;
      if (reader->Read(&response)) last = response.status();
      ++watching;
      while (reader->Read(&response)) last = response.status();
      EXPECT_EQ(last, HealthCheckResponse::NOT_SERVING);  // the shutdown status comes last
      EXPECT_TRUE(reader->Finish().ok());
    });
  }
  EXPECT_TRUE(testing::WaitFor([&] { return watching.load() == kWatchers; }));  // then shut down and join
  for (int i = 0; i < 200; ++i) {
    server->health().SetAll(i % 2 ? HealthService::kServing : HealthService::kNotServing);
  }
  server->Shutdown(absl::Seconds(5));
  for (std::thread& t : threads) t.join();
}

TEST(TransportTest, AnIdleConnectedClientDelaysShutdownAtMostByTheGrace) {
  testing::ShortTempDir dir;
  std::unique_ptr<Transport> server = StartOrDie({.address = "unix:" + dir.path() + "/i.sock"});
  ASSERT_NE(server, nullptr);
  server->health().SetAll(HealthService::kServing);
  auto stub = HealthStub(server->address());  // stays connected and idle during the shutdown
  grpc::ClientContext context;
  HealthCheckResponse response;
  ASSERT_TRUE(stub->Check(&context, HealthCheckRequest(), &response).ok());
  const absl::Time start = absl::Now();
  server->Shutdown(absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << "the grace bounds the wait (generous: a loaded machine)";
}

TEST(HealthProbeTest, ExitCodes) {
  testing::ShortTempDir dir;
  const std::string probe = testing::RunfilePath("platform/health_probe");
  const std::string address = "unix:" + dir.path() + "/p.sock";
  EXPECT_EQ(*testing::RunProgram(probe, {"--address=" + address, "--timeout=200ms"}, {}), 2);
  std::unique_ptr<Transport> server = StartOrDie({.address = address});
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(*testing::RunProgram(probe, {"--address=" + address}, {}), 4);
  EXPECT_EQ(*testing::RunProgram(probe, {"--address=" + address, "--service=x.Y"}, {}), 3);
  server->health().SetAll(HealthService::kServing);
  EXPECT_EQ(*testing::RunProgram(probe, {"--address=" + address}, {}), 0);
  EXPECT_EQ(*testing::RunProgram(probe, {}, {}), 1);
}

TEST(HealthProbeTest, WaitsUntilServing) {
  testing::ShortTempDir dir;
  const std::string address = "unix:" + dir.path() + "/late.sock";
  std::unique_ptr<Transport> server;
  std::thread starter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    server = StartOrDie({.address = address});
    server->health().SetAll(HealthService::kServing);
  });
  EXPECT_EQ(*testing::RunProgram(testing::RunfilePath("platform/health_probe"),
                                 {"--address=" + address, "--wait=20s", "--timeout=500ms"}, {}),
            0);
  starter.join();
}

}  // namespace
}  // namespace platform
