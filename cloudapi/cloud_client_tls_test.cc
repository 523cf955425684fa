// TLS and connection handling of the platform HTTP client as CloudClient uses it, against the
// simulator's TLS listener with a throwaway CA made in the test (platform/http/testing).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cloudapi/cloud_client.h"
#include "platform/http/testing/test_certs.h"
#include "platform/testing/wait_for.h"
#include "test/cloudsim/test_util.h"

namespace cloudapi {
namespace {

using cloudsim::SimConfig;
using cloudsim::testing::SimInstance;

std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/", name);
}

// A simulator behind TLS with a certificate for `dns` / `ips`, signed by a fresh test CA.
struct TlsSim {
  TlsSim(const std::string& tag, const std::vector<std::string>& dns, const std::vector<std::string>& ips) {
    absl::StatusOr<platform::http::testing::TestPki> pki = platform::http::testing::MakeTestPki(dns, ips);
    if (!pki.ok()) throw std::runtime_error(std::string(pki.status().message()));
    ca_file = TmpPath(tag + "_ca.pem");
    cloudsim::ServerOptions options;
    options.tls_cert_file = TmpPath(tag + "_cert.pem");
    options.tls_key_file = TmpPath(tag + "_key.pem");
    for (const auto& [path, pem] :
         {std::pair{ca_file, pki->ca_cert_pem}, std::pair{options.tls_cert_file, pki->server_cert_pem},
          std::pair{options.tls_key_file, pki->server_key_pem}}) {
      absl::Status st = platform::http::testing::WriteTextFile(path, pem);
      if (!st.ok()) throw std::runtime_error(std::string(st.message()));
    }
    sim = std::make_unique<SimInstance>(SimConfig{}, "", options);
  }
  std::string ca_file;
  std::unique_ptr<SimInstance> sim;
};

absl::StatusOr<std::unique_ptr<CloudClient>> Client(const std::string& host, uint16_t port, const std::string& ca_file,
                                                    int* attempts = nullptr) {
  CloudClientOptions o;
  o.base_url = absl::StrCat("https://", host, ":", port, "/api/v1");
  o.api_key = *ApiKey::FromString(SimInstance::kApiKey);
  o.transport.extra_ca_file = ca_file;
  o.retry.initial_backoff = absl::Milliseconds(10);
  if (attempts != nullptr) o.observer = [attempts](const CallEvent&) { ++*attempts; };
  return CloudClient::Create(std::move(o));
}

TEST(Tls, AnUnknownCaIsRejectedByDefaultAndAcceptedWhenGiven) {
  TlsSim tls("default", {"localhost"}, {"127.0.0.1"});
  int attempts = 0;
  absl::StatusOr<std::unique_ptr<CloudClient>> strict = Client("127.0.0.1", tls.sim->port(), "", &attempts);
  ASSERT_TRUE(strict.ok()) << strict.status();
  absl::Status st = (*strict)->GetCurrentUser().status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(st.message(), "certificate verify failed")) << st;
  EXPECT_EQ(attempts, 1);  // a rejected certificate is not retried
  EXPECT_EQ((*strict)->transport_stats().connections_opened, 0u);

  absl::StatusOr<std::unique_ptr<CloudClient>> trusting = Client("127.0.0.1", tls.sim->port(), tls.ca_file);
  ASSERT_TRUE(trusting.ok()) << trusting.status();
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<CurrentUser> me = (*trusting)->GetCurrentUser();
    ASSERT_TRUE(me.ok()) << me.status();
  }
  EXPECT_EQ((*trusting)->transport_stats().connections_opened, 1u);  // TLS keep-alive reuse

  // The same CA by host name: SNI + DNS-name check.
  absl::StatusOr<std::unique_ptr<CloudClient>> by_name = Client("localhost", tls.sim->port(), tls.ca_file);
  ASSERT_TRUE(by_name.ok());
  EXPECT_TRUE((*by_name)->GetCurrentUser().ok());
}

TEST(Tls, TheNameOrAddressMustMatchTheCertificate) {
  TlsSim tls("mismatch", {"cloud-api.example.invalid"}, {});
  absl::StatusOr<std::unique_ptr<CloudClient>> by_ip = Client("127.0.0.1", tls.sim->port(), tls.ca_file);
  ASSERT_TRUE(by_ip.ok());
  absl::Status ip = (*by_ip)->GetCurrentUser().status();
  EXPECT_EQ(ip.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(ip.message(), "IP address mismatch")) << ip;
  absl::StatusOr<std::unique_ptr<CloudClient>> by_name = Client("localhost", tls.sim->port(), tls.ca_file);
  ASSERT_TRUE(by_name.ok());
  absl::Status name = (*by_name)->GetCurrentUser().status();
  EXPECT_TRUE(absl::StrContains(name.message(), "hostname mismatch")) << name;
}

TEST(Tls, AnUnreadableCaFileIsAConfigurationError) {
  EXPECT_EQ(Client("127.0.0.1", 1, "/nonexistent/ca.pem").status().code(), absl::StatusCode::kInvalidArgument);
}

// True when a loopback TCP connection to `port` is in CLOSE_WAIT on our side: the server closed
// it and we have not (yet) noticed, the state an idle keep-alive connection is in once the
// server's idle timeout fired.
bool ServerClosedAConnection(uint16_t port) {
  std::ifstream tcp("/proc/net/tcp");
  const std::string remote =
      absl::StrCat(":", absl::AsciiStrToUpper(absl::StrCat(absl::Hex(port, absl::kZeroPad4))), " ");
  std::string line;
  while (std::getline(tcp, line)) {
    // "  sl  local_address rem_address   st ...": CLOSE_WAIT is 08.
    const std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() > 3 && absl::StrContains(f[2] + " ", remote) && f[3] == "08") return true;
  }
  return false;
}

TEST(Transport, ConnectionsTheServerClosedAreNotReused) {
  cloudsim::ServerOptions options;
  options.idle_timeout = absl::Milliseconds(100);
  SimInstance s(SimConfig{}, "", options);
  CloudClientOptions o;
  o.base_url = absl::StrCat("http://127.0.0.1:", s.port(), "/api/v1");
  o.api_key = *ApiKey::FromString(SimInstance::kApiKey);
  int attempts = 0;
  o.observer = [&attempts](const CallEvent&) { ++attempts; };
  std::unique_ptr<CloudClient> client = *CloudClient::Create(std::move(o));
  ProvisionCvmRequest r;
  r.name = "first-app";
  r.compose_file.docker_compose_file = "services: {}\n";
  ASSERT_TRUE(client->ProvisionCvm(r).ok());
  ASSERT_TRUE(platform::testing::WaitFor([&] { return ServerClosedAConnection(s.port()); }))
      << "the server did not close the idle connection";
  r.name = "second-app";
  absl::StatusOr<ProvisionCvmResponse> p = client->ProvisionCvm(r);  // a POST: must not hit a dead socket
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(attempts, 2);
  platform::http::Client::Stats st = client->transport_stats();
  EXPECT_EQ(st.connections_opened, 2u);
  EXPECT_EQ(st.stale_connections_dropped, 1u);
}

}  // namespace
}  // namespace cloudapi
