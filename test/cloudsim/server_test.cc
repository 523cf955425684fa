// Transport-level behaviour over real sockets: fault switches (latency, 5xx, 429 + Retry-After,
// dropped connections; rate / Nth / every Mth / times; path and method filters), TLS, the body
// limit and a graceful stop that lets an in-flight request finish.
#include "test/cloudsim/server.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "platform/testing/wait_for.h"
#include "test/cloudsim/test_util.h"

namespace cloudsim {
namespace {

namespace json = boost::json;
using testing::HttpClient;
using testing::Reply;
using testing::SimInstance;
using testing::StringAt;

void AddFault(SimInstance& s, const std::string& rule) {
  Reply r = s.Admin("POST", "/faults", rule);
  ASSERT_EQ(r.status, 200) << r.body;
}

TEST(Faults, ErrorOnTheNthCallOnlyAndLogged) {
  SimInstance s(SimConfig{});
  AddFault(s, R"({"kind":"error","status":503,"path_prefix":"/kms","nth":2})");
  EXPECT_EQ(s.Api("GET", "/kms").status, 200);
  Reply second = s.Api("GET", "/kms");
  EXPECT_EQ(second.status, 503);
  EXPECT_EQ(second.body, R"({"detail":"Simulated fault"})");
  EXPECT_EQ(s.Api("GET", "/kms").status, 200);
  EXPECT_EQ(s.Api("GET", "/auth/me").status, 200);  // another path: not matched
  json::array reqs = s.Admin("GET", "/requests").json().at("requests").as_array();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[1].at("status").as_int64(), 503);
  EXPECT_EQ(StringAt(reqs[1], "fault"), "error:503");
  EXPECT_TRUE(reqs[0].at("fault").is_null());
  json::array listed = s.Admin("GET", "/faults").json().at("faults").as_array();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].at("matched").as_int64(), 3);
  EXPECT_EQ(listed[0].at("fired").as_int64(), 1);
}

TEST(Faults, RateLimitWithRetryAfterAndTimes) {
  SimInstance s(SimConfig{});
  AddFault(s, R"({"kind":"rate_limit","retry_after":7,"path_prefix":"/api/v1/auth","times":2})");
  for (int i = 0; i < 2; ++i) {
    Reply r = s.Api("GET", "/auth/me");
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.headers["retry-after"], "7");
    EXPECT_EQ(r.body, R"({"detail":"Too Many Requests"})");
  }
  EXPECT_EQ(s.Api("GET", "/auth/me").status, 200);
}

TEST(Faults, FaultsComeBeforeAuthAndNeverHitAdmin) {
  SimInstance s(SimConfig{});
  AddFault(s, R"({"kind":"error","status":500,"body":"{\"detail\":\"boom\"}"})");
  Reply r = s.client().Send("GET", "/api/v1/auth/me");  // no API key
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, R"({"detail":"boom"})");
  EXPECT_EQ(s.Admin("GET", "/health").status, 200);
  EXPECT_EQ(s.Admin("DELETE", "/faults").status, 200);
  EXPECT_EQ(s.Api("GET", "/auth/me").status, 200);
}

TEST(Faults, LatencyByMethodAddsUp) {
  SimInstance s(SimConfig{});
  AddFault(
      s,
      R"([{"kind":"latency","latency_ms":150,"method":"POST"},{"kind":"latency","latency_ms":150,"path_prefix":"/cvms"}])");
  EXPECT_EQ(s.Api("GET", "/kms").status, 200);
  const absl::Time t0 = absl::Now();
  Reply r = s.Api("POST", "/cvms/provision", "{}");
  EXPECT_EQ(r.status, 422);
  EXPECT_GE(absl::Now() - t0, absl::Milliseconds(300));
  json::array reqs = s.Admin("GET", "/requests").json().at("requests").as_array();
  ASSERT_EQ(reqs.size(), 2u);
  // The GET matched neither rule: no latency (its record, not a wall-clock bound, says so).
  EXPECT_TRUE(reqs.front().at("fault").is_null());
  EXPECT_EQ(StringAt(reqs.back(), "fault"), "latency+latency");
  EXPECT_GE(reqs.back().at("duration_ms").as_int64(), 300);
}

TEST(Faults, DroppedConnection) {
  SimInstance s(SimConfig{});
  AddFault(s, R"({"kind":"drop","path_prefix":"/auth/me","nth":1})");
  EXPECT_EQ(s.Api("GET", "/kms").status, 200);
  Reply dropped = s.Api("GET", "/auth/me");
  EXPECT_EQ(dropped.status, 0);  // closed without a response
  EXPECT_EQ(s.Api("GET", "/auth/me").status, 200);
  EXPECT_EQ(s.client().connects(), 2);
  json::array reqs = s.Admin("GET", "/requests").json().at("requests").as_array();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[1].at("status").as_int64(), 0);
  EXPECT_EQ(StringAt(reqs[1], "fault"), "drop");
}

TEST(Faults, EveryAndRate) {
  SimInstance s(SimConfig{});
  AddFault(s, R"({"kind":"error","status":502,"path_prefix":"/kms","every":3})");
  std::string seen;
  for (int i = 0; i < 6; ++i) seen += s.Api("GET", "/kms").status == 502 ? "x" : ".";
  EXPECT_EQ(seen, "..x..x");
  s.Admin("DELETE", "/faults");
  AddFault(s, R"({"kind":"error","status":503,"rate":0.5})");
  int fired = 0;
  for (int i = 0; i < 200; ++i) fired += s.Api("GET", "/kms").status == 503;
  EXPECT_GT(fired, 60);
  EXPECT_LT(fired, 140);
}

TEST(Faults, RulesAreValidated) {
  SimInstance s(SimConfig{});
  EXPECT_EQ(s.Admin("POST", "/faults", R"({"kind":"explode"})").status, 400);
  EXPECT_EQ(s.Admin("POST", "/faults", R"({"kind":"error","status":200})").status, 400);
  EXPECT_EQ(s.Admin("POST", "/faults", R"({"kind":"latency"})").status, 400);
  EXPECT_EQ(s.Admin("POST", "/faults", R"({"kind":"error","rate":2})").status, 400);
  EXPECT_EQ(s.Admin("POST", "/faults", "not json").status, 400);
  FaultInjector f(1);
  EXPECT_TRUE(f.AddAll(json::parse(R"([{"kind":"drop"},{"kind":"429","retry_after":3}])")).ok());
  EXPECT_EQ(f.List().size(), 2u);
  EXPECT_FALSE(f.AddAll(json::parse(R"([{"kind":"drop","nth":-1}])")).ok());
}

TEST(Server, KeepAliveAndBodyLimit) {
  ServerOptions o;
  o.body_limit = 1024;
  SimInstance s(SimConfig{}, "", o);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s.Api("GET", "/kms").status, 200);
  EXPECT_EQ(s.client().connects(), 1);
  Reply big = s.Api("POST", "/cvms/provision", std::string(4096, ' '));
  EXPECT_EQ(big.status, 413);
}

TEST(Server, AdminEndpointsAnswerLoopbackPeersOnly) {
  SimInstance s(SimConfig{});
  HttpRequest req;
  req.method = "GET";
  req.path = "/_sim/requests";
  req.remote_is_loopback = false;
  HttpResponse r = s.sim().Handle(req);
  EXPECT_EQ(r.status, 403);
  req.remote_is_loopback = true;
  EXPECT_EQ(s.sim().Handle(req).status, 200);
}

TEST(Server, Tls) {
  const std::string dir = testing::TempPath("tls");
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p ", dir,
                                     " && openssl req -x509 -newkey ec -pkeyopt "
                                     "ec_paramgen_curve:P-256 -nodes -keyout ",
                                     dir, "/key.pem -out ", dir, "/cert.pem -days 1 -subj /CN=127.0.0.1 2>/dev/null")
                            .c_str()),
            0);
  ServerOptions o;
  o.tls_cert_file = dir + "/cert.pem";
  o.tls_key_file = dir + "/key.pem";
  SimInstance s(SimConfig{}, "", o);
  Reply r = s.Api("GET", "/auth/me");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(s.Api("GET", "/kms").status, 200);
  EXPECT_EQ(s.client().connects(), 1);
  // A plain-HTTP client gets nothing useful from a TLS port.
  HttpClient plain("127.0.0.1", s.port());
  EXPECT_NE(plain.Send("GET", "/api/v1/kms").status, 200);
  ServerOptions bad = o;
  bad.tls_key_file = dir + "/missing.pem";
  EXPECT_FALSE(HttpServer::Start(bad, [](const HttpRequest&) { return HttpResponse{}; }).ok());
}

TEST(Server, GracefulStopFinishesInFlightRequests) {
  SimInstance s(SimConfig{});
  AddFault(s, R"({"kind":"latency","latency_ms":1500,"path_prefix":"/auth"})");
  Reply slow;
  std::thread t([&] {
    HttpClient c("127.0.0.1", s.port());
    slow = c.Send("GET", "/api/v1/auth/me", "", {{"X-API-Key", SimInstance::kApiKey}});
  });
  // In flight: the latency rule fired for it (it has arrived and is being delayed).
  EXPECT_TRUE(platform::testing::WaitFor([&] {
    json::array f = s.Admin("GET", "/faults").json().at("faults").as_array();
    return !f.empty() && f[0].at("fired").as_int64() == 1;
  }));
  uint16_t port = s.port();
  s.Stop();  // waits for the in-flight request
  t.join();
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.headers["connection"], "close");
  HttpClient after("127.0.0.1", port);
  EXPECT_EQ(after.Send("GET", "/api/v1/kms").status, 0);  // nobody listens any more
}

}  // namespace
}  // namespace cloudsim
