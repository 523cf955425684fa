#include "signer/metrics/metrics.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace signer::metrics {
namespace {

using ::testing::HasSubstr;

std::string HttpGet(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return "connect failed";
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  ::send(fd, req.data(), req.size(), 0);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

TEST(Metrics, RendersAndServes) {
  Metrics m;
  m.ObserveRequest("SignAddComposeHash", "ok", absl::Microseconds(80));
  m.ObserveRequest("SignAddComposeHash", "permission_denied", absl::Milliseconds(3));
  m.PolicyDenial("chains[chain_id=1].max_gas_limit");
  m.PolicyReload(false);
  m.SetKeysLoaded(2);
  auto server = MetricsHttpServer::Start("127.0.0.1", 0, &m);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string resp = HttpGet((*server)->port(), "/metrics");
  EXPECT_THAT(resp, HasSubstr("200 OK"));
  EXPECT_THAT(resp, HasSubstr("signer_requests_total{method=\"SignAddComposeHash\",outcome=\"ok\"} 1"));
  EXPECT_THAT(resp, HasSubstr("signer_request_duration_seconds_bucket{method=\"SignAddComposeHash\",le=\"0.0001\"} 1"));
  EXPECT_THAT(resp, HasSubstr("signer_request_duration_seconds_count{method=\"SignAddComposeHash\"} 2"));
  EXPECT_THAT(resp, HasSubstr("signer_policy_denials_total{rule=\"chains[chain_id=1].max_gas_limit\"} 1"));
  EXPECT_THAT(resp, HasSubstr("signer_policy_reloads_total{result=\"rejected\"} 1"));
  EXPECT_THAT(resp, HasSubstr("signer_keys_loaded 2"));
  EXPECT_THAT(HttpGet((*server)->port(), "/"), HasSubstr("404"));
  (*server)->Stop();
}

}  // namespace
}  // namespace signer::metrics
