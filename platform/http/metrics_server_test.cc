#include "platform/http/metrics_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "platform/http/client.h"
#include "platform/http/testing/prometheus_text.h"
#include "platform/http/testing/slow_client.h"
#include "platform/http/url.h"
#include "platform/status_macros.h"
#include "platform/testing/wait_for.h"

namespace platform::http {
namespace {

using ::testing::HasSubstr;

constexpr char kBody[] = "# HELP up Whether the target is up.\n# TYPE up gauge\nup 1\n";

absl::StatusOr<Response> Send(int port, Request request, absl::Duration timeout = absl::Seconds(5)) {
  ASSIGN_OR_RETURN(Url url, ParseUrl(absl::StrCat("http://127.0.0.1:", port)));
  ASSIGN_OR_RETURN(std::unique_ptr<Client> client,
                   Client::Create(url, {.connect_timeout = timeout, .request_timeout = timeout}));
  return client->Send(request);
}

// A raw TCP connection to 127.0.0.1:port.
struct RawConnection {
  explicit RawConnection(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~RawConnection() { ::close(fd); }
  void Send(const std::string& s) { ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size())); }
  // Reads until EOF or `within`; true on EOF (or reset). What was read goes to `got`.
  bool ClosedWithin(absl::Duration within, std::string* got = nullptr) {
    const absl::Time end = absl::Now() + within;
    for (absl::Time now = absl::Now(); now < end; now = absl::Now()) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(end - now)) + 1) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return true;
      if (got != nullptr) got->append(buf, static_cast<size_t>(n));
    }
    return false;
  }
  int fd = -1;
  bool connected = false;
};

std::unique_ptr<MetricsServer> StartServer(MetricsServerOptions options, std::atomic<int>* scrapes = nullptr) {
  absl::StatusOr<std::unique_ptr<MetricsServer>> s = MetricsServer::Start(options, [scrapes] {
    if (scrapes != nullptr) ++*scrapes;
    return std::string(kBody);
  });
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

TEST(MetricsServer, ServesMetricsAndRefusesTheRest) {
  std::atomic<int> scrapes{0};
  std::unique_ptr<MetricsServer> server = StartServer({}, &scrapes);
  ASSERT_NE(server, nullptr);
  absl::StatusOr<Response> ok = Send(server->port(), {.target = "/metrics?x=1"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);
  ASSERT_NE(ok->Header("content-type"), nullptr);
  EXPECT_EQ(*ok->Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  absl::StatusOr<testing::Exposition> parsed = testing::ParsePrometheusText(ok->body);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->samples["up"], 1);

  absl::StatusOr<Response> missing = Send(server->port(), {.target = "/"});
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->status, 404);
  absl::StatusOr<Response> post = Send(server->port(), {.method = "POST", .target = "/metrics"});
  ASSERT_TRUE(post.ok()) << post.status();
  EXPECT_EQ(post->status, 405);
  ASSERT_NE(post->Header("allow"), nullptr);
  EXPECT_EQ(*post->Header("allow"), "GET");
  EXPECT_EQ(scrapes.load(), 1) << "only GET /metrics renders";
}

TEST(MetricsServer, RefusesABadBindAddress) {
  absl::StatusOr<std::unique_ptr<MetricsServer>> s =
      MetricsServer::Start({.bind_address = "localhost"}, [] { return std::string(); });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("not an IP address: \"localhost\""));
}

// The header timeout counts from the first byte for the whole header: a byte every 300 ms keeps
// every single read short, and the client is still dropped after 1 s while others are served.
TEST(MetricsServer, DropsATricklingClientAfterTheHeaderTimeout) {
  std::unique_ptr<MetricsServer> server = StartServer({.header_timeout = absl::Seconds(1)});
  ASSERT_NE(server, nullptr);
  testing::TricklingClient slow(server->port(), "GET /metrics HTTP/1.1\r\nX-Slow: ", absl::Milliseconds(300),
                                absl::Seconds(6));
  ASSERT_TRUE(slow.connected().ok()) << slow.connected();
  absl::StatusOr<Response> ok = Send(server->port(), {.target = "/metrics"}, absl::Milliseconds(500));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);
  absl::Duration after;
  ASSERT_TRUE(slow.WaitClosed(&after)) << "still connected after 6 s";
  EXPECT_GE(after, absl::Milliseconds(900));
  EXPECT_LE(after, absl::Milliseconds(2500));
}

TEST(MetricsServer, ClosesSilentAndIdleConnections) {
  std::unique_ptr<MetricsServer> server =
      StartServer({.header_timeout = absl::Milliseconds(500), .idle_timeout = absl::Milliseconds(500)});
  ASSERT_NE(server, nullptr);
  RawConnection silent(server->port());
  ASSERT_TRUE(silent.connected);
  RawConnection kept(server->port());
  ASSERT_TRUE(kept.connected);
  kept.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  const absl::Time start = absl::Now();
  std::string answer;
  EXPECT_TRUE(kept.ClosedWithin(absl::Seconds(3), &answer)) << "keep-alive connection not closed when idle";
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_TRUE(silent.ClosedWithin(absl::Seconds(1))) << "connected, never sent a byte";
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(400));
}

// Connections waiting between keep-alive requests cannot lock scrapers out: at the cap, a new
// connection closes one of them.
TEST(MetricsServer, AtTheCapAnIdleKeepAliveConnectionGivesWay) {
  std::unique_ptr<MetricsServer> server = StartServer({.max_connections = 2});
  ASSERT_NE(server, nullptr);
  RawConnection a(server->port());
  RawConnection b(server->port());
  for (RawConnection* c : {&a, &b}) {
    c->Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string answer;
    EXPECT_TRUE(::platform::testing::WaitFor(
        [&] { return c->ClosedWithin(absl::Milliseconds(50), &answer) || absl::StrContains(answer, kBody); }));
    EXPECT_THAT(answer, HasSubstr("200 OK"));
    EXPECT_FALSE(c->ClosedWithin(absl::Milliseconds(200), &answer)) << "kept alive";
  }
  absl::StatusOr<Response> ok = Send(server->port(), {.target = "/metrics"}, absl::Seconds(20));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);
  EXPECT_TRUE(::platform::testing::WaitFor([&] {
    return a.ClosedWithin(absl::Milliseconds(20)) || b.ClosedWithin(absl::Milliseconds(20));
  })) << "neither idle connection gave way";
}

TEST(MetricsServer, ClosesOnAnOversizedHeader) {
  std::unique_ptr<MetricsServer> server = StartServer({.max_header_bytes = 1024});
  ASSERT_NE(server, nullptr);
  RawConnection c(server->port());
  ASSERT_TRUE(c.connected);
  c.Send(absl::StrCat("GET /metrics HTTP/1.1\r\nX-Big: ", std::string(2048, 'a'), "\r\n\r\n"));
  std::string answer;
  EXPECT_TRUE(c.ClosedWithin(absl::Seconds(2), &answer));
  EXPECT_THAT(answer, ::testing::Not(HasSubstr("200 OK")));
}

TEST(MetricsServer, CapsConcurrentConnections) {
  std::unique_ptr<MetricsServer> server = StartServer({.max_connections = 2});
  ASSERT_NE(server, nullptr);
  auto a = std::make_unique<RawConnection>(server->port());
  RawConnection b(server->port());
  RawConnection over(server->port());  // accepted after a and b (one listening queue)
  EXPECT_TRUE(over.ClosedWithin(absl::Seconds(20))) << "a third connection is closed at once";
  a.reset();
  // Served once the server has seen a go (polled: noticing it takes a moment on a busy machine).
  absl::StatusOr<Response> ok;
  EXPECT_TRUE(::platform::testing::WaitFor([&] {
    ok = Send(server->port(), {.target = "/metrics"}, absl::Seconds(1));
    return ok.ok();
  }));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);
}

TEST(MetricsServer, StopClosesOpenConnectionsPromptly) {
  // Timeouts far beyond the bounds below: only Stop can close the connection in time (the
  // bounds are generous for a loaded machine and still prove it).
  std::unique_ptr<MetricsServer> server =
      StartServer({.header_timeout = absl::Seconds(120), .idle_timeout = absl::Seconds(120)});
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  RawConnection idle(port);
  ASSERT_TRUE(idle.connected);
  absl::SleepFor(absl::Milliseconds(50));
  const absl::Time start = absl::Now();
  server->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_TRUE(idle.ClosedWithin(absl::Seconds(20)));
  EXPECT_EQ(server->port(), port);
  server->Stop();  // idempotent
  EXPECT_FALSE(RawConnection(port).connected) << "no longer listening";
}

}  // namespace
}  // namespace platform::http
