// The client against a real loopback HTTP and HTTPS server (testing/fake_server.h) with a
// throwaway CA made in the test (testing/test_certs.h).
#include "platform/http/client.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "platform/http/testing/fake_server.h"
#include "platform/http/testing/test_certs.h"
#include "platform/testing/process_threads.h"
#include "platform/testing/wait_for.h"

namespace platform::http {
namespace {

using ::platform::testing::ProcessThreads;

using testing::FakeHttpServer;
using testing::FakeReply;
using testing::FakeServerOptions;

std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/", name);
}

FakeHttpServer::Handler Answer(std::string body) {
  return [body](const std::string&) { return FakeReply{.body = body}; };
}

std::unique_ptr<FakeHttpServer> MustStart(FakeHttpServer::Handler h, const FakeServerOptions& o = {}) {
  absl::StatusOr<std::unique_ptr<FakeHttpServer>> s = FakeHttpServer::Start(std::move(h), o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

std::unique_ptr<Client> MustClient(const std::string& url, ClientOptions o = {}) {
  absl::StatusOr<Url> u = ParseUrl(url);
  EXPECT_TRUE(u.ok()) << u.status();
  o.connect_timeout = std::min(o.connect_timeout, absl::Seconds(2));
  o.request_timeout = std::min(o.request_timeout, absl::Seconds(2));
  absl::StatusOr<std::unique_ptr<Client>> c = Client::Create(*u, std::move(o));
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

// A TLS server with a certificate for `dns` / `ips` signed by a fresh test CA.
struct TlsServer {
  TlsServer(const std::string& tag, const std::vector<std::string>& dns, const std::vector<std::string>& ips,
            std::string body = "tls ok") {
    absl::StatusOr<testing::TestPki> pki = testing::MakeTestPki(dns, ips);
    EXPECT_TRUE(pki.ok()) << pki.status();
    ca_file = TmpPath(tag + "_ca.pem");
    FakeServerOptions o{.tls = true, .cert_file = TmpPath(tag + "_cert.pem"), .key_file = TmpPath(tag + "_key.pem")};
    EXPECT_TRUE(testing::WriteTextFile(ca_file, pki->ca_cert_pem).ok());
    EXPECT_TRUE(testing::WriteTextFile(o.cert_file, pki->server_cert_pem).ok());
    EXPECT_TRUE(testing::WriteTextFile(o.key_file, pki->server_key_pem).ok());
    server = MustStart(Answer(std::move(body)), o);
  }
  std::string url(const std::string& host) const { return absl::StrCat("https://", host, ":", server->port(), "/"); }
  std::string ca_file;
  std::unique_ptr<FakeHttpServer> server;
};

TEST(Client, SendsTheRequestAndReturnsTheResponseAsValues) {
  auto server = MustStart([](const std::string& body) {
    return FakeReply{.status = 201, .body = "got " + body, .headers = {{"Retry-After", "7"}}};
  });
  auto client = MustClient(server->url());
  Request req{.method = "POST", .target = "/api/v1/x?y=1", .headers = {{"X-Test", "1"}}, .body = "hi"};
  absl::StatusOr<Response> res = client->Send(req);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, "got hi");
  ASSERT_NE(res->Header("retry-after"), nullptr);
  EXPECT_EQ(*res->Header("retry-after"), "7");
  EXPECT_EQ(*res->Header("content-type"), "application/json");
  EXPECT_EQ(res->Header("x-none"), nullptr);
  const testing::ReceivedRequest got = server->last_request();
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.target, "/api/v1/x?y=1");
  EXPECT_EQ(got.body, "hi");
  bool host = false, custom = false;
  for (const auto& [name, value] : got.headers) {
    host |= name == "Host" && value == absl::StrCat("127.0.0.1:", server->port());
    custom |= name == "X-Test" && value == "1";
  }
  EXPECT_TRUE(host);
  EXPECT_TRUE(custom);
}

TEST(Client, ReusesKeepAliveConnectionsUpToTheBound) {
  auto server = MustStart(Answer("{}"));
  auto client = MustClient(server->url(), {.max_idle_connections = 2});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->Send({}).ok());
  EXPECT_EQ(server->connections(), 1u);
  EXPECT_EQ(client->stats().requests, 5u);
  EXPECT_EQ(client->stats().connections_reused, 4u);

  server->set_handler([](const std::string&) { return FakeReply{.delay = absl::Milliseconds(100)}; });
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) threads.emplace_back([&] { EXPECT_TRUE(client->Send({}).ok()); });
  for (auto& t : threads) t.join();
  const uint64_t after_burst = server->connections();
  EXPECT_GE(after_burst, 3u) << "concurrent calls use separate connections";
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(client->Send({}).ok());
  EXPECT_EQ(server->connections(), after_burst) << "at most two kept, and they are reused";
}

TEST(Client, AnIpLiteralIsConnectedWithoutAResolverThread) {
  auto server = MustStart(Answer("{}"));
  auto client = MustClient(server->url());  // http://127.0.0.1:<port>/
  const int before = ProcessThreads();
  ASSERT_TRUE(client->Send({}).ok());
  // The connection waits in the pool; so would a resolver thread Asio started for it (one per
  // connection). The one new thread is the server's, serving that connection.
  EXPECT_EQ(server->connections(), 1u);
  EXPECT_EQ(ProcessThreads(), before + 1);
}

TEST(Client, ConcurrentCallsKeepTheirConnectionsForTheNextBurst) {
  auto server = MustStart([](const std::string&) { return FakeReply{.body = "{}", .delay = absl::Milliseconds(200)}; });
  auto client = MustClient(server->url());  // the default pool
  auto burst = [&] {
    std::vector<std::thread> threads;
    for (int i = 0; i < 32; ++i) threads.emplace_back([&] { EXPECT_TRUE(client->Send({}).ok()); });
    for (auto& t : threads) t.join();
  };
  burst();
  const uint64_t opened = server->connections();
  EXPECT_GE(opened, 8u) << "concurrent calls use separate connections";
  burst();
  EXPECT_EQ(server->connections(), opened) << "kept for the next burst, not closed and opened again";
  EXPECT_GE(client->stats().connections_reused, 32u);
}

TEST(Client, AConnectionTheServerClosedIsNotReused) {
  auto server = MustStart([](const std::string&) { return FakeReply{.close_after = true}; });
  auto client = MustClient(server->url());
  ASSERT_TRUE(client->Send({.method = "POST"}).ok());
  ASSERT_TRUE(client->Send({.method = "POST"}).ok());
  EXPECT_EQ(server->connections(), 2u);
  EXPECT_EQ(client->stats().connections_reused, 0u);
}

TEST(Client, AnIdleConnectionDroppedByTheServerIsRepeatedOnlyWhenIdempotent) {
  auto server = MustStart(Answer("{}"), {.requests_per_connection = 1});
  auto client = MustClient(server->url());
  ASSERT_TRUE(client->Send({}).ok());
  SendInfo info;
  absl::StatusOr<Response> post = client->Send({.method = "POST"}, absl::InfiniteFuture(), &info);
  EXPECT_EQ(post.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(info.request_written);
  ASSERT_TRUE(client->Send({}).ok());
  absl::StatusOr<Response> get = client->Send({.idempotent = true}, absl::InfiniteFuture(), &info);
  ASSERT_TRUE(get.ok()) << get.status();
}

TEST(Client, TimeoutsAreUnavailableAndSaySo) {
  auto server = MustStart([](const std::string&) { return FakeReply{.delay = absl::Seconds(5)}; });
  auto client = MustClient(server->url(), {.request_timeout = absl::Milliseconds(200)});
  SendInfo info;
  const absl::Time t0 = absl::Now();
  absl::Status s = client->Send({}, absl::InfiniteFuture(), &info).status();
  // info.timed_out is the event; the bound (generous for a loaded machine) is only "before the
  // server would have answered".
  EXPECT_LT(absl::Now() - t0, absl::Seconds(4));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), absl::StrCat("http://127.0.0.1:", server->port(), ": read: timed out"));
  EXPECT_TRUE(info.timed_out);
  EXPECT_TRUE(info.request_written);

  s = client->Send({}, absl::Now() + absl::Milliseconds(100), &info).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(info.timed_out);
  EXPECT_FALSE(client->Send({}, absl::Now() - absl::Seconds(1), &info).ok());
  EXPECT_FALSE(info.write_started);
}

TEST(Client, ConnectFailureNamesTheOriginButNeverThePathOrHeaders) {
  std::string url;
  {
    auto gone = MustStart(Answer("{}"));
    url = absl::StrCat("http://127.0.0.1:", gone->port());
  }
  auto client = MustClient(url + "/secret-path");
  SendInfo info;
  absl::Status s =
      client->Send({.target = "/secret-path", .headers = {{"X-API-Key", "secret-key"}}}, absl::InfiniteFuture(), &info)
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StartsWith(s.message(), url + ": connect failed: ")) << s;
  EXPECT_FALSE(absl::StrContains(s.message(), "secret")) << s;
  EXPECT_FALSE(info.write_started);
}

TEST(Client, AnOversizedResponseIsRefused) {
  auto server = MustStart(Answer(std::string(4096, 'x')));
  auto client = MustClient(server->url(), {.max_response_bytes = 1024});
  absl::Status s = client->Send({}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(s.message(), "larger than 1024 bytes")) << s;
}

TEST(Client, HeadersAreSetByNameWithHostFirstAndTheBodyLength) {
  auto server = MustStart(Answer("{}"));
  auto client = MustClient(server->url());
  const std::string host = absl::StrCat("127.0.0.1:", server->port());
  ASSERT_TRUE(client->Send({.headers = {{"Accept", "a"}, {"X-One", "1"}, {"accept", "b"}}}).ok());
  using Fields = std::vector<std::pair<std::string, std::string>>;
  // A later header replaces an earlier one of the same name (any case) at the end; a GET without
  // a body has no Content-Length.
  EXPECT_EQ(server->last_request().headers, (Fields{{"Host", host}, {"X-One", "1"}, {"accept", "b"}}));
  ASSERT_TRUE(client->Send({.method = "POST", .headers = {{"content-length", "99"}}}).ok());
  EXPECT_EQ(server->last_request().headers, (Fields{{"Host", host}, {"Content-Length", "0"}}));
  ASSERT_TRUE(client->Send({.method = "PATCH", .headers = {{"Host", "other"}}, .body = "xyz"}).ok());
  EXPECT_EQ(server->last_request().headers, (Fields{{"Host", "other"}, {"Content-Length", "3"}}));
  EXPECT_EQ(server->last_request().body, "xyz");
  EXPECT_EQ(server->connections(), 1u);
}

TEST(Client, ALargeRequestIsWrittenAcrossPartialWrites) {
  auto server = MustStart([](const std::string& body) { return FakeReply{.body = std::to_string(body.size())}; });
  auto client = MustClient(server->url());
  // More than a loopback socket's largest send buffer (4 MiB): send(2) takes it in parts.
  const std::string big(7 << 20, 'b');
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<Response> res = client->Send({.method = "POST", .body = big});
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->body, std::to_string(big.size()));
  }
  EXPECT_EQ(server->last_request().body, big);
  EXPECT_EQ(server->connections(), 1u);
}

TEST(Client, AResponseArrivingInPiecesIsAssembled) {
  const std::string body(20000, 'r');
  auto server = MustStart(
      [&](const std::string&) { return FakeReply{.body = body, .pieces = 4, .piece_delay = absl::Milliseconds(20)}; });
  auto client = MustClient(server->url());
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<Response> res = client->Send({});
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->body, body);
  }
  EXPECT_EQ(server->connections(), 1u) << "kept alive after an answer in pieces";
}

TEST(Client, ResponsesFramedByChunksOrByTheEndOfTheStream) {
  auto server = MustStart([](const std::string&) {
    return FakeReply{.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                     .pieces = 3,
                     .piece_delay = absl::Milliseconds(10)};
  });
  auto client = MustClient(server->url());
  absl::StatusOr<Response> chunked = client->Send({});
  ASSERT_TRUE(chunked.ok()) << chunked.status();
  EXPECT_EQ(chunked->body, "abcde");
  server->set_handler([](const std::string&) {
    return FakeReply{.close_after = true, .raw = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end", .pieces = 3};
  });
  absl::StatusOr<Response> to_eof = client->Send({});
  ASSERT_TRUE(to_eof.ok()) << to_eof.status();
  EXPECT_EQ(to_eof->body, "to the end");
  server->set_handler([](const std::string&) {
    return FakeReply{.close_after = true, .raw = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\ncut"};
  });
  absl::Status cut = client->Send({}).status();
  EXPECT_EQ(cut.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(cut.message(), "read failed: partial message")) << cut;
}

TEST(Client, ADeadlinePassingMidReadIsATimeout) {
  auto server = MustStart(
      [](const std::string&) { return FakeReply{.body = "{}", .pieces = 2, .piece_delay = absl::Seconds(3)}; });
  auto client = MustClient(server->url(), {.request_timeout = absl::Milliseconds(300)});
  SendInfo info;
  absl::Status s = client->Send({}, absl::InfiniteFuture(), &info).status();
  EXPECT_EQ(s.message(), absl::StrCat("http://127.0.0.1:", server->port(), ": read: timed out"));
  EXPECT_TRUE(info.timed_out);
  EXPECT_TRUE(info.request_written);
  server->set_handler(Answer("{}"));
  ASSERT_TRUE(client->Send({}).ok());
  EXPECT_EQ(client->stats().connections_opened, 2u) << "the connection cut mid-answer is not reused";
}

TEST(Client, EachExchangeWaitsOnlyUntilItsOwnDeadline) {
  auto server = MustStart(Answer("{}"));
  auto client = MustClient(server->url(), {.request_timeout = absl::Seconds(10)});
  ASSERT_TRUE(client->Send({}).ok());  // a wait bounded by a whole slice (1 s) on this connection
  server->set_handler([](const std::string&) { return FakeReply{.body = "{}", .delay = absl::Seconds(5)}; });
  SendInfo info;
  const absl::Time t0 = absl::Now();
  absl::Status s = client->Send({}, absl::Now() + absl::Milliseconds(150), &info).status();
  EXPECT_LT(absl::Now() - t0, absl::Seconds(1)) << "the shorter deadline, not the earlier wait's bound";
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(info.timed_out);
}

TEST(Client, AnAnswerSlowerThanOneWaitSliceStillArrives) {
  auto server = MustStart([](const std::string&) {
    return FakeReply{.body = "late", .pieces = 2, .piece_delay = absl::Milliseconds(1300)};
  });
  auto client = MustClient(server->url(), {.request_timeout = absl::Seconds(2)});
  absl::StatusOr<Response> res = client->Send({}, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->body, "late");
}

TEST(Client, AnIdlePooledConnectionTheServerClosedIsNotTaken) {
  auto server = MustStart(Answer("{}"), {.close_idle_after = absl::Milliseconds(50)});
  auto client = MustClient(server->url());
  ASSERT_TRUE(client->Send({.method = "POST"}).ok());
  ASSERT_TRUE(::platform::testing::WaitFor([&] { return server->idle_closed() == 1; }));
  // Not idempotent, so not repeatable: the closed connection must be noticed before the write.
  SendInfo info;
  absl::StatusOr<Response> post = client->Send({.method = "POST"}, absl::InfiniteFuture(), &info);
  ASSERT_TRUE(post.ok()) << post.status();
  EXPECT_EQ(client->stats().stale_connections_dropped, 1u);
  EXPECT_EQ(client->stats().connections_opened, 2u);
  EXPECT_EQ(server->requests(), 2u);
}

TEST(ClientTls, VerifiesTheChainAndTheNameAndReusesConnections) {
  TlsServer tls("ok", {"localhost"}, {"127.0.0.1"});
  auto by_name = MustClient(tls.url("localhost"), {.extra_ca_file = tls.ca_file});
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<Response> r = by_name->Send({});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->body, "tls ok");
  }
  EXPECT_EQ(by_name->stats().connections_opened, 1u);
  auto by_ip = MustClient(tls.url("127.0.0.1"), {.extra_ca_file = tls.ca_file});
  EXPECT_TRUE(by_ip->Send({}).ok());
}

TEST(ClientTls, AnAnswerLargerThanTheReadBufferArrivesWholeOnAReusedConnection) {
  // Over 16 KiB, the connection's read buffer, and more than one TLS record.
  const std::string body(40000, 't');
  TlsServer tls("large", {"localhost"}, {"127.0.0.1"}, body);
  auto client = MustClient(tls.url("localhost"), {.extra_ca_file = tls.ca_file});
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<Response> r = client->Send({});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->body, body);
  }
  EXPECT_EQ(client->stats().connections_opened, 1u);
}

TEST(ClientTls, AnUnknownCaIsRejectedAsPermanent) {
  TlsServer tls("unknown", {"localhost"}, {"127.0.0.1"});
  auto client = MustClient(tls.url("localhost"));  // system store only
  SendInfo info;
  absl::Status s = client->Send({}, absl::InfiniteFuture(), &info).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(s.message(), "tls handshake failed: certificate verify failed")) << s;
  EXPECT_TRUE(info.certificate_rejected);
  EXPECT_FALSE(info.write_started);
  EXPECT_EQ(tls.server->requests(), 0u);
}

TEST(ClientTls, TheNameOrAddressMustMatch) {
  TlsServer tls("mismatch", {"api.example.invalid"}, {});
  absl::Status ip = MustClient(tls.url("127.0.0.1"), {.extra_ca_file = tls.ca_file})->Send({}).status();
  EXPECT_TRUE(absl::StrContains(ip.message(), "IP address mismatch")) << ip;
  absl::Status name = MustClient(tls.url("localhost"), {.extra_ca_file = tls.ca_file})->Send({}).status();
  EXPECT_TRUE(absl::StrContains(name.message(), "hostname mismatch")) << name;
}

TEST(ClientTls, AnUnreadableCaFileIsAConfigurationError) {
  absl::StatusOr<Url> u = ParseUrl("https://localhost:1/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(Client::Create(*u, {.extra_ca_file = "/nonexistent/ca.pem"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace platform::http
