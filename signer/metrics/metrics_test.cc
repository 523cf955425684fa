#include "signer/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "platform/http/client.h"
#include "platform/http/url.h"
#include "platform/status_macros.h"

namespace signer::metrics {
namespace {

using ::testing::HasSubstr;

// GET http://127.0.0.1:<port><path> through the project's HTTP client.
absl::StatusOr<platform::http::Response> HttpGet(int port, const std::string& path) {
  ASSIGN_OR_RETURN(platform::http::Url url, platform::http::ParseUrl(absl::StrCat("http://127.0.0.1:", port)));
  ASSIGN_OR_RETURN(std::unique_ptr<platform::http::Client> client, platform::http::Client::Create(url, {}));
  return client->Send({.method = "GET", .target = path});
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
  absl::StatusOr<platform::http::Response> got = HttpGet((*server)->port(), "/metrics");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 200);
  const std::string& resp = got->body;
  EXPECT_THAT(resp, HasSubstr("signer_requests_total{method=\"SignAddComposeHash\",outcome=\"ok\"} 1"));
  EXPECT_THAT(resp, HasSubstr("signer_request_duration_seconds_bucket{method=\"SignAddComposeHash\",le=\"0.0001\"} 1"));
  EXPECT_THAT(resp, HasSubstr("signer_request_duration_seconds_count{method=\"SignAddComposeHash\"} 2"));
  EXPECT_THAT(resp, HasSubstr("signer_policy_denials_total{rule=\"chains[chain_id=1].max_gas_limit\"} 1"));
  EXPECT_THAT(resp, HasSubstr("signer_policy_reloads_total{result=\"rejected\"} 1"));
  EXPECT_THAT(resp, HasSubstr("signer_keys_loaded 2"));
  absl::StatusOr<platform::http::Response> missing = HttpGet((*server)->port(), "/");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->status, 404);
  (*server)->Stop();
}

}  // namespace
}  // namespace signer::metrics
