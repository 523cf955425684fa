#include "signer/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "platform/http/client.h"
#include "platform/http/metrics_server.h"
#include "platform/http/testing/prometheus_text.h"
#include "platform/http/testing/slow_client.h"
#include "platform/http/url.h"
#include "platform/status_macros.h"

namespace signer::metrics {
namespace {

using ::testing::HasSubstr;

// GET http://127.0.0.1:<port><path> through the project's HTTP client.
absl::StatusOr<platform::http::Response> HttpGet(int port, const std::string& path,
                                                 absl::Duration timeout = absl::Seconds(30)) {
  ASSIGN_OR_RETURN(platform::http::Url url, platform::http::ParseUrl(absl::StrCat("http://127.0.0.1:", port)));
  ASSIGN_OR_RETURN(std::unique_ptr<platform::http::Client> client,
                   platform::http::Client::Create(url, {.connect_timeout = timeout, .request_timeout = timeout}));
  return client->Send({.method = "GET", .target = path});
}

// The signer's endpoint as signer_main starts it (default timeouts).
std::unique_ptr<platform::http::MetricsServer> Serve(const Metrics& m) {
  absl::StatusOr<std::unique_ptr<platform::http::MetricsServer>> s =
      platform::http::MetricsServer::Start({.bind_address = "127.0.0.1"}, [&m] { return m.Render(); });
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

TEST(Metrics, RendersAndServes) {
  Metrics m;
  m.ObserveRequest("SignAddComposeHash", "ok", absl::Microseconds(80));
  m.ObserveRequest("SignAddComposeHash", "permission_denied", absl::Milliseconds(3));
  m.PolicyDenial("chains[chain_id=1].max_gas_limit");
  m.PolicyReload(false);
  m.SetKeysLoaded(2);
  m.SetGroupCommitFns([] { return 3; }, [] { return 5; });
  m.SetRefusedConnectionsFn([] { return 7; });
  m.Signed("SignAddComposeHash", "first");
  m.Signing("SignAddComposeHash", absl::Microseconds(300));
  m.EquivocationRefusal("SignAddComposeHash");
  m.AuditWrite(false, absl::Milliseconds(2));
  auto server = Serve(m);
  ASSERT_NE(server, nullptr);
  absl::StatusOr<platform::http::Response> got = HttpGet(server->port(), "/metrics");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 200);
  const std::string& resp = got->body;
  absl::StatusOr<platform::http::testing::Exposition> parsed = platform::http::testing::ParsePrometheusText(resp);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << resp;
  EXPECT_EQ(parsed->types["signer_request_duration_seconds"], "histogram");
  EXPECT_EQ(parsed->samples["signer_equivocation_records_total"], 5);
  EXPECT_EQ(parsed->samples["signer_refused_connections_total"], 7);
  EXPECT_THAT(resp, HasSubstr("signer_requests_total{method=\"SignAddComposeHash\",outcome=\"ok\"} 1"));
  EXPECT_THAT(resp, HasSubstr("signer_request_duration_seconds_bucket{method=\"SignAddComposeHash\",le=\"0.0001\"} 1"));
  EXPECT_THAT(resp, HasSubstr("signer_request_duration_seconds_count{method=\"SignAddComposeHash\"} 2"));
  EXPECT_THAT(resp, HasSubstr("signer_policy_denials_total{rule=\"chains[chain_id=1].max_gas_limit\"} 1"));
  EXPECT_THAT(resp, HasSubstr("signer_policy_reloads_total{result=\"rejected\"} 1"));
  EXPECT_THAT(resp, HasSubstr("signer_keys_loaded 2"));
  EXPECT_EQ(parsed->types["signer_keys_loaded"], "gauge");
  EXPECT_EQ(parsed->samples["signer_signatures_total{method=\"SignAddComposeHash\",nonce_use=\"first\"}"], 1);
  EXPECT_EQ(parsed->samples["signer_signing_duration_seconds_bucket{method=\"SignAddComposeHash\",le=\"0.0005\"}"], 1);
  EXPECT_EQ(parsed->samples["signer_equivocation_refusals_total{method=\"SignAddComposeHash\"}"], 1);
  EXPECT_EQ(parsed->samples["signer_audit_write_duration_seconds_count{result=\"failed\"}"], 1);
  EXPECT_EQ(parsed->samples["signer_policy_reloads_total{result=\"ok\"}"], 0) << "both results shown from the start";
  absl::StatusOr<platform::http::Response> missing = HttpGet(server->port(), "/");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->status, 404);
  server->Stop();
}

// A client trickling a header one byte every 1.5 s (issue #12) neither holds the endpoint nor
// stays connected: another scrape is answered at once and the trickler is dropped once the 5 s
// header timeout has passed.
TEST(Metrics, TricklingClientNeitherHoldsTheEndpointNorStays) {
  Metrics m;
  m.SetKeysLoaded(1);
  auto server = Serve(m);
  ASSERT_NE(server, nullptr);
  platform::http::testing::TricklingClient slow(
      server->port(), "GET /metrics HTTP/1.1\r\nX-Slow: ", absl::Milliseconds(1500), absl::Seconds(30));
  ASSERT_TRUE(slow.connected().ok()) << slow.connected();
  absl::SleepFor(absl::Milliseconds(200));
  // Held, the scrape would wait for the trickler's drop (5 s header timeout): 4 s is generous
  // for a loaded machine and still proves "at once".
  absl::StatusOr<platform::http::Response> got = HttpGet(server->port(), "/metrics", absl::Seconds(4));
  ASSERT_TRUE(got.ok()) << got.status() << " (the trickling client holds the endpoint)";
  EXPECT_EQ(got->status, 200);
  EXPECT_THAT(got->body, HasSubstr("signer_keys_loaded 1"));
  absl::Duration after;
  ASSERT_TRUE(slow.WaitClosed(&after)) << "still connected after 30 s";
  EXPECT_GE(after, absl::Seconds(4));
  EXPECT_LE(after, absl::Seconds(20)) << "dropped by the header timeout, long before the trickle ends";
}

}  // namespace
}  // namespace signer::metrics
