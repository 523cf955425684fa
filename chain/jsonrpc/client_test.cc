// The client against scripted HTTP(S) servers: keep-alive, concurrency, batch, failover,
// retries for reads only, timeouts, cancellation, TLS verification, chain-id guard.
#include "chain/jsonrpc/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chain/hex.h"
#include "chain/jsonrpc/errors.h"
#include "chain/keccak.h"
#include "platform/http/testing/fake_server.h"
#include "platform/testing/wait_for.h"

namespace chain::jsonrpc {
namespace {

namespace json = boost::json;
using testing_fake = ::platform::http::testing::FakeHttpServer;
using ::platform::http::testing::FakeReply;
using ::platform::http::testing::FakeServerOptions;

constexpr char kTestData[] = "chain/jsonrpc/testdata/";

// Answers each request (single or batch) with `result(method, params)`.
testing_fake::Handler Echo(std::function<json::value(const std::string& method, const json::array& params)> result) {
  return [result](const std::string& body) {
    json::value req = json::parse(body);
    auto one = [&](const json::object& r) {
      json::object o;
      o["jsonrpc"] = "2.0";
      o["id"] = r.at("id");
      o["result"] = result(std::string(r.at("method").as_string()), r.at("params").as_array());
      return o;
    };
    FakeReply reply;
    if (req.is_array()) {
      json::array out;
      // Answer in reverse order: ids, not positions, must match the calls.
      for (auto it = req.as_array().rbegin(); it != req.as_array().rend(); ++it) out.push_back(one(it->as_object()));
      reply.body = json::serialize(out);
    } else {
      reply.body = json::serialize(one(req.as_object()));
    }
    return reply;
  };
}

json::value ChainIdResult(const std::string& method, const json::array&) {
  if (method == "eth_chainId") return "0x2105";
  if (method == "eth_blockNumber") return "0x10";
  return nullptr;
}

std::unique_ptr<testing_fake> MustStart(testing_fake::Handler h, const FakeServerOptions& o = {}) {
  absl::StatusOr<std::unique_ptr<testing_fake>> s = testing_fake::Start(std::move(h), o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

std::unique_ptr<Client> MustClient(ClientOptions o) {
  absl::StatusOr<std::unique_ptr<Client>> c = Client::Create(std::move(o));
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

ClientOptions Fast(std::vector<std::string> endpoints) {
  ClientOptions o;
  o.endpoints = std::move(endpoints);
  o.transport.connect_timeout = absl::Milliseconds(500);
  o.transport.request_timeout = absl::Milliseconds(500);
  o.retry.initial_backoff = absl::Milliseconds(10);
  o.retry.max_backoff = absl::Milliseconds(50);
  return o;
}

// A port with nothing listening.
std::string DeadUrl() {
  auto s = MustStart(Echo(ChainIdResult));
  std::string url = s->url();
  return url;  // the server is gone when `s` is destroyed
}

TEST(Client, TypedCallsAndKeepAlive) {
  auto server = MustStart(Echo(ChainIdResult));
  auto c = MustClient(Fast({server->url()}));
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<uint64_t> id = c->ChainId();
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(*id, 8453u);
  }
  EXPECT_EQ(server->requests(), 10u);
  EXPECT_EQ(server->connections(), 1u) << "keep-alive: one connection for sequential calls";
  EXPECT_EQ(c->endpoint_states()[0].transport.connections_reused, 9u);
}

TEST(Client, ConcurrentCallsUseAPoolOfConnections) {
  auto server = MustStart(Echo(ChainIdResult));
  ClientOptions o = Fast({server->url()});
  o.transport.max_idle_connections = 4;
  auto c = MustClient(o);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (c->BlockNumber().value_or(0) == 16) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_LE(server->connections(), 8u + 200u / 4u) << "connections are reused";
  EXPECT_GE(c->endpoint_states()[0].transport.connections_reused, 100u);
}

TEST(Client, BatchMatchesById) {
  auto server = MustStart([](const std::string& body) {
    json::array req = json::parse(body).as_array();
    json::array out;
    for (auto it = req.rbegin(); it != req.rend(); ++it) {
      const json::object& r = it->as_object();
      json::object o{{"jsonrpc", "2.0"}, {"id", r.at("id")}};
      if (r.at("method") == "eth_chainId") {
        o["result"] = "0x1";
      } else {
        o["error"] = json::object{{"code", -32601}, {"message", "Method not found"}};
      }
      out.push_back(std::move(o));
    }
    return FakeReply{.body = json::serialize(out)};
  });
  auto c = MustClient(Fast({server->url()}));
  absl::StatusOr<std::vector<absl::StatusOr<json::value>>> r =
      c->Batch({{"eth_chainId", {}}, {"eth_nope", {}}, {"eth_chainId", {}}});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0]->as_string(), "0x1");
  EXPECT_EQ((*r)[1].status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ((*r)[2]->as_string(), "0x1");
  EXPECT_EQ(server->requests(), 1u);
}

// A node that answers single calls and a batch of them item by item: -32005 (limit exceeded,
// retryable) the first time it sees eth_getBalance, `batches` false: "batch not supported" as
// one error object for any batch.
struct ReadsNode {
  explicit ReadsNode(bool batches) {
    server = MustStart([this, batches](const std::string& body) {
      json::value req = json::parse(body);
      auto one = [&](const json::object& r) {
        json::object o{{"jsonrpc", "2.0"}, {"id", r.at("id")}};
        if (r.at("method") == "eth_getBalance" && limited.fetch_add(1) == 0) {
          o["error"] = json::object{{"code", -32005}, {"message", "limit exceeded"}};
        } else {
          o["result"] = r.at("method") == "eth_chainId" ? "0x2105" : "0x10";
        }
        return o;
      };
      if (!req.is_array()) return FakeReply{.body = json::serialize(one(req.as_object()))};
      ++batch_requests;
      if (!batches) {
        return FakeReply{.body =
                             R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch not supported"}})"};
      }
      json::array out;
      for (const json::value& r : req.as_array()) out.push_back(one(r.as_object()));
      return FakeReply{.body = json::serialize(out)};
    });
  }
  std::atomic<int> limited{0};
  std::atomic<int> batch_requests{0};
  std::unique_ptr<testing_fake> server;
};

const std::vector<Client::BatchCall> kReads = {Client::ChainIdCall(), Client::GetBalanceCall(Address()),
                                               Client::GetCodeCall(Address())};

// kReads as ReadsNode answers them.
void ExpectAnswered(const std::vector<absl::StatusOr<json::value>>& r) {
  ASSERT_EQ(r.size(), 3u);
  for (const absl::StatusOr<json::value>& item : r) ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(r[0]->as_string(), "0x2105");
  EXPECT_EQ(r[1]->as_string(), "0x10");
  EXPECT_EQ(r[2]->as_string(), "0x10");
}

TEST(Client, CallEachSendsTheReadsTogetherAndRetriesARetryableItemAlone) {
  ReadsNode node(/*batches=*/true);
  auto c = MustClient(Fast({node.server->url()}));
  ExpectAnswered(c->CallEach(kReads));  // eth_getBalance: limit exceeded in the batch, then alone
  EXPECT_EQ(node.server->requests(), 2u) << "one batch + the one retried item";
  (void)c->CallEach(kReads);
  EXPECT_EQ(node.server->requests(), 3u);
  EXPECT_EQ(node.batch_requests, 2);
}

TEST(Client, CallEachGoesOneByOneWhenTheNodeRefusesBatches) {
  ReadsNode node(/*batches=*/false);
  auto c = MustClient(Fast({node.server->url()}));
  ExpectAnswered(c->CallEach(kReads));
  ExpectAnswered(c->CallEach(kReads));
  EXPECT_EQ(node.batch_requests, 1) << "refused once, not offered again";
}

TEST(Client, CallEachStopsAskingOnceTheNodeIsUnreachable) {
  auto c = MustClient(Fast({DeadUrl()}));
  std::vector<absl::StatusOr<json::value>> r = c->CallEach(kReads);
  ASSERT_EQ(r.size(), 3u);
  for (const auto& item : r) {
    EXPECT_EQ(item.status().code(), absl::StatusCode::kUnavailable) << item.status();
    EXPECT_TRUE(GetTransportDetail(item.status()).has_value());
  }
}

TEST(Client, CallEachSpendsOneRetryBudgetWhenTheBatchFails) {
  auto server = MustStart([](const std::string&) {
    return FakeReply{.status = 502, .body = "<html>bad gateway</html>", .content_type = "text/html"};
  });
  ClientOptions o = Fast({server->url()});
  o.retry.max_attempts = 3;
  auto c = MustClient(o);
  std::vector<absl::StatusOr<json::value>> r = c->CallEach(kReads);
  ASSERT_EQ(r.size(), 3u);
  for (const auto& item : r) {
    EXPECT_EQ(item.status().code(), absl::StatusCode::kUnavailable) << item.status();
    EXPECT_TRUE(absl::StrContains(item.status().message(), "http 502")) << item.status();
  }
  EXPECT_EQ(server->requests(), 3u) << "the batch's attempts only, no item sent again alone";
}

TEST(Client, FailsOverToTheNextEndpointAndRemembers) {
  auto bad = MustStart([](const std::string&) {
    return FakeReply{.status = 503, .body = "upstream down", .content_type = "text/plain"};
  });
  auto good = MustStart(Echo(ChainIdResult));
  ClientOptions o = Fast({bad->url(), good->url()});
  std::vector<RetryEvent> retries;  // one thread: the test's
  o.on_retry = [&](const RetryEvent& e) { retries.push_back(e); };
  auto c = MustClient(std::move(o));
  ASSERT_TRUE(c->ChainId().ok());
  EXPECT_EQ(bad->requests(), 1u);
  ASSERT_EQ(retries.size(), 1u) << "the failed attempt is reported once";
  EXPECT_TRUE(retries[0].failover);
  EXPECT_EQ(retries[0].method, "eth_chainId");
  EXPECT_EQ(retries[0].error.code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(c->ChainId().ok());
  EXPECT_EQ(bad->requests(), 1u) << "a failed endpoint cools down";
  EXPECT_EQ(good->requests(), 2u);
  EXPECT_TRUE(c->endpoint_states()[0].cooling_down);
  EXPECT_EQ(c->endpoint_states()[0].failures, 1u);
}

TEST(Client, ReadsRetryWithBackoffOnOneEndpoint) {
  std::atomic<int> n{0};
  auto inner = Echo(ChainIdResult);
  auto server = MustStart([&](const std::string& body) {
    if (n.fetch_add(1) < 2)
      return FakeReply{.status = 502, .body = "<html>bad gateway</html>", .content_type = "text/html"};
    return inner(body);
  });
  ClientOptions o = Fast({server->url()});
  int retries = 0, failovers = 0;
  o.on_retry = [&](const RetryEvent& e) {
    ++retries;
    failovers += e.failover ? 1 : 0;
  };
  auto c = MustClient(std::move(o));
  absl::StatusOr<uint64_t> id = c->ChainId();
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(server->requests(), 3u);
  EXPECT_EQ(retries, 2) << "two failed attempts, each tried again";
  EXPECT_EQ(failovers, 0) << "one endpoint: a retry is no failover";

  n = -100;  // always failing now
  absl::StatusOr<uint64_t> fail = c->ChainId();
  EXPECT_EQ(fail.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(fail.status().message(), "http 502")) << fail.status();
  EXPECT_TRUE(absl::StrContains(fail.status().message(), "after 4 attempts")) << fail.status();
}

TEST(Client, RateLimitIsRetried) {
  std::atomic<int> n{0};
  auto inner = Echo(ChainIdResult);
  auto server = MustStart([&](const std::string& body) {
    if (n.fetch_add(1) == 0) return FakeReply{.status = 429, .body = "slow down", .content_type = "text/plain"};
    return inner(body);
  });
  auto c = MustClient(Fast({server->url()}));
  ASSERT_TRUE(c->ChainId().ok());
  EXPECT_EQ(server->requests(), 2u);
}

TEST(Client, JsonRpcErrorsAreNotRetried) {
  auto server = MustStart([](const std::string& body) {
    json::object r = json::parse(body).as_object();
    json::object o{
        {"jsonrpc", "2.0"},
        {"id", r.at("id")},
        {"error",
         json::object{{"code", 3},
                      {"message", "execution reverted"},
                      {"data", "0x118cdaa7000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266"}}}};
    // Some providers use HTTP 400/500 for JSON-RPC errors: the body decides.
    return FakeReply{.status = 500, .body = json::serialize(o)};
  });
  auto c = MustClient(Fast({server->url()}));
  absl::StatusOr<Bytes> r = c->EthCall({.to = Address(), .data = {1, 2, 3, 4}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(r.status().message(), "OwnableUnauthorizedAccount(0xf39F")) << r.status();
  EXPECT_EQ(server->requests(), 1u);
  ASSERT_TRUE(GetRpcError(r.status()).has_value());
  EXPECT_EQ(GetRpcError(r.status())->code, 3);
}

TEST(Client, NotJsonIsUnavailable) {
  auto server = MustStart([](const std::string&) { return FakeReply{.body = "hello"}; });
  ClientOptions o = Fast({server->url()});
  o.retry.max_attempts = 1;
  auto c = MustClient(o);
  absl::Status s = c->ChainId().status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(s.message(), "body is not JSON")) << s;
}

TEST(Client, ReadTimeout) {
  auto server = MustStart([](const std::string&) { return FakeReply{.delay = absl::Seconds(5)}; });
  ClientOptions o = Fast({server->url()});
  o.transport.request_timeout = absl::Milliseconds(200);
  o.retry.max_attempts = 2;
  auto c = MustClient(o);
  const absl::Time t0 = absl::Now();
  absl::Status s = c->ChainId().status();
  // The message is the event (without the timeout the reply comes, empty: "not JSON"); the
  // bound, generous for a loaded machine, is only "before the server would have answered".
  EXPECT_LT(absl::Now() - t0, absl::Seconds(4));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(s.message(), "read: timed out")) << s;
  EXPECT_TRUE(GetTransportDetail(s)->maybe_sent);
}

TEST(Client, ConnectRefusedNeverSent) {
  ClientOptions o = Fast({DeadUrl()});
  o.retry.max_attempts = 2;
  auto c = MustClient(o);
  absl::Status s = c->ChainId().status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(s.message(), "connect")) << s;
  EXPECT_FALSE(GetTransportDetail(s)->maybe_sent);
}

TEST(Client, DeadlineAndCancelStopRetries) {
  ClientOptions o = Fast({DeadUrl()});
  o.retry.max_attempts = 1000;
  o.retry.initial_backoff = absl::Milliseconds(50);
  auto c = MustClient(o);
  // 1000 attempts 50 ms apart would take ~50 s: a generous bound still shows the deadline ended it.
  const absl::Time t0 = absl::Now();
  absl::Status s = c->ChainId({.deadline = absl::Now() + absl::Milliseconds(300)}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_LT(absl::Now() - t0, absl::Seconds(20));

  // Cancelled while retrying: once an attempt of this call has failed (not before it started).
  CancelToken cancel;
  const uint64_t failures = c->endpoint_states()[0].failures;
  std::thread canceller([&] {
    platform::testing::WaitFor([&] { return c->endpoint_states()[0].failures > failures; });
    cancel.Cancel();
  });
  s = c->ChainId({.cancel = &cancel}).status();
  canceller.join();
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "last error")) << s;
}

TEST(Client, StaleKeepAliveConnectionIsRetriedForReads) {
  auto server = MustStart(Echo(ChainIdResult), {.requests_per_connection = 1});
  ClientOptions o = Fast({server->url()});
  o.retry.max_attempts = 1;  // the stale-connection retry is the transport's, not a client retry
  auto c = MustClient(o);
  ASSERT_TRUE(c->ChainId().ok());
  absl::StatusOr<uint64_t> again = c->ChainId();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(server->connections(), 2u);
}

// ---- eth_sendRawTransaction ----

const Bytes kRaw = {0x02, 0xc0, 0x01, 0x02};

TEST(Client, SendRawIsNotResentAfterItMayHaveArrived) {
  auto dropper = MustStart([](const std::string&) { return FakeReply{.drop = true}; });
  auto other = MustStart(Echo([](const std::string&, const json::array&) -> json::value { return nullptr; }));
  auto c = MustClient(Fast({dropper->url(), other->url()}));
  absl::Status s = c->SendRawTransaction(kRaw).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  ASSERT_TRUE(GetTransportDetail(s).has_value());
  EXPECT_TRUE(GetTransportDetail(s)->maybe_sent);
  EXPECT_EQ(dropper->requests(), 1u);
  EXPECT_EQ(other->requests(), 0u) << "a maybe-sent transaction is never blindly sent elsewhere";
}

TEST(Client, SendRawMovesOnWhenItCertainlyNeverLeft) {
  const Hash32 h = Keccak256(kRaw);
  auto good = MustStart(Echo([h](const std::string& m, const json::array&) -> json::value {
    return m == "eth_sendRawTransaction" ? json::value(h.Hex()) : nullptr;
  }));
  auto c = MustClient(Fast({DeadUrl(), good->url()}));
  absl::StatusOr<Hash32> r = c->SendRawTransaction(kRaw);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, h);
}

TEST(Client, SendRawAlreadyKnownIsSuccessAndWrongHashIsNot) {
  auto server = MustStart([](const std::string& body) {
    json::object r = json::parse(body).as_object();
    json::object o{{"jsonrpc", "2.0"},
                   {"id", r.at("id")},
                   {"error", json::object{{"code", -32003}, {"message", "transaction already imported"}}}};
    return FakeReply{.body = json::serialize(o)};
  });
  auto c = MustClient(Fast({server->url()}));
  absl::StatusOr<Hash32> r = c->SendRawTransaction(kRaw);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Keccak256(kRaw));

  server->set_handler(
      Echo([](const std::string&, const json::array&) -> json::value { return json::string(Hash32().Hex()); }));
  EXPECT_EQ(c->SendRawTransaction(kRaw).status().code(), absl::StatusCode::kInternal);
}

// ---- chain-id guard ----

TEST(Client, EndpointOnAnotherChainIsDisabled) {
  auto mainnet = MustStart(Echo([](const std::string& m, const json::array&) -> json::value {
    return m == "eth_chainId" ? json::value("0x1") : json::value("0x99");
  }));
  auto base = MustStart(Echo(ChainIdResult));
  ClientOptions o = Fast({mainnet->url(), base->url()});
  o.expected_chain_id = 8453;
  auto c = MustClient(o);
  absl::StatusOr<uint64_t> bn = c->BlockNumber();
  ASSERT_TRUE(bn.ok()) << bn.status();
  EXPECT_EQ(*bn, 16u) << "served by the Base endpoint";
  EXPECT_TRUE(c->endpoint_states()[0].wrong_chain);
  ASSERT_TRUE(c->BlockNumber().ok());
  EXPECT_EQ(mainnet->requests(), 1u) << "only the chain-id probe";

  ClientOptions only = Fast({mainnet->url()});
  only.expected_chain_id = 8453;
  auto c2 = MustClient(only);
  absl::Status s = c2->BlockNumber().status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(s.message(), "serves chain 1, want chain 8453")) << s;
}

// ---- TLS ----

FakeServerOptions Tls(const std::string& name) {
  return {.tls = true,
          .cert_file = absl::StrCat(kTestData, "server_", name, ".pem"),
          .key_file = absl::StrCat(kTestData, "server_", name, ".key")};
}

TEST(ClientTls, VerifiesAgainstTrustedCaAndHostName) {
  auto server = MustStart(Echo(ChainIdResult), Tls("localhost"));
  const std::string port = absl::StrCat(server->port());
  ClientOptions o = Fast({"https://localhost:" + port + "/rpc?key=secret"});
  o.transport.extra_ca_file = absl::StrCat(kTestData, "ca.pem");
  auto c = MustClient(o);
  absl::StatusOr<uint64_t> id = c->ChainId();
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, 8453u);
  ASSERT_TRUE(c->ChainId().ok());
  EXPECT_EQ(server->connections(), 1u) << "keep-alive over TLS";
  EXPECT_EQ(c->endpoint_states()[0].redacted_url, "https://localhost:" + port) << "no path, no key";

  // IP literal: checked against the certificate's IP SAN (and no SNI is sent).
  ClientOptions by_ip = o;
  by_ip.endpoints = {"https://127.0.0.1:" + port};
  ASSERT_TRUE(MustClient(by_ip)->ChainId().ok());
}

TEST(ClientTls, RejectsUntrustedCertificate) {
  auto server = MustStart(Echo(ChainIdResult), Tls("localhost"));
  ClientOptions o = Fast({absl::StrCat("https://localhost:", server->port())});
  o.retry.max_attempts = 1;
  auto c = MustClient(o);  // system store only: the test CA is not in it
  absl::Status s = c->ChainId().status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(s.message(), "tls handshake")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "certificate verify failed")) << s;
  EXPECT_FALSE(GetTransportDetail(s)->maybe_sent);
  EXPECT_EQ(server->requests(), 0u);
}

TEST(ClientTls, RejectsWrongHostName) {
  auto server = MustStart(Echo(ChainIdResult), Tls("other"));
  ClientOptions o = Fast({absl::StrCat("https://localhost:", server->port())});
  o.transport.extra_ca_file = absl::StrCat(kTestData, "ca.pem");
  o.retry.max_attempts = 1;
  absl::Status s = MustClient(o)->ChainId().status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(s.message(), "tls handshake")) << s;
  EXPECT_EQ(server->requests(), 0u);
}

TEST(ClientTls, BadCaFileIsAConfigurationError) {
  ClientOptions o = Fast({"https://localhost:1"});
  o.transport.extra_ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(Client::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- URLs ----

TEST(EndpointUrlTest, UserInfoBecomesBasicAuthAndPathAndQueryAreSent) {
  auto server = MustStart(Echo(ChainIdResult));
  auto c = MustClient(Fast({absl::StrCat("http://user:p%40ss@127.0.0.1:", server->port(), "/v2/KEY?x=1")}));
  ASSERT_TRUE(c->ChainId().ok());
  const ::platform::http::testing::ReceivedRequest got = server->last_request();
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.target, "/v2/KEY?x=1");
  bool basic = false;
  for (const auto& [name, value] : got.headers) basic |= name == "Authorization" && value == "Basic dXNlcjpwQHNz";
  EXPECT_TRUE(basic);
  EXPECT_EQ(c->endpoint_states()[0].redacted_url, absl::StrCat("http://127.0.0.1:", server->port()));
  EXPECT_EQ(Client::Create(Fast({"ws://x"})).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Client::Create(Fast({"not a url"})).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Client::Create({}).ok());
}

}  // namespace
}  // namespace chain::jsonrpc
