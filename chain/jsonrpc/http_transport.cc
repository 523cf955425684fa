#include "chain/jsonrpc/http_transport.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "chain/jsonrpc/errors.h"

namespace chain::jsonrpc {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

std::string Base64(absl::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t n = uint8_t(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::chrono::steady_clock::time_point ToSteady(absl::Time t) {
  const absl::Duration left = t - absl::Now();
  if (left <= absl::ZeroDuration()) return std::chrono::steady_clock::now();
  if (left > absl::Hours(24 * 365)) return std::chrono::steady_clock::now() + std::chrono::hours(24 * 365);
  return std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(left);
}

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Errors a server's close of an idle keep-alive connection produces on the next exchange.
bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
}

}  // namespace

std::string EndpointUrl::Redacted() const {
  const bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat(tls ? "https://" : "http://", v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
}

absl::StatusOr<EndpointUrl> ParseEndpointUrl(absl::string_view url) {
  boost::system::result<boost::urls::url_view> r =
      boost::urls::parse_uri(boost::core::string_view(url.data(), url.size()));
  if (!r) return absl::InvalidArgumentError("endpoint url: not a valid absolute URL");
  const boost::urls::url_view& u = *r;
  EndpointUrl e;
  const std::string scheme = absl::AsciiStrToLower(std::string(u.scheme()));
  if (scheme == "https") {
    e.tls = true;
  } else if (scheme != "http") {
    return absl::InvalidArgumentError("endpoint url: scheme must be http or https");
  }
  e.host = std::string(u.host_address());
  if (e.host.empty()) return absl::InvalidArgumentError("endpoint url: missing host");
  if (u.has_port()) {
    if (u.port_number() == 0) return absl::InvalidArgumentError("endpoint url: bad port");
    e.port = u.port_number();
  } else {
    e.port = e.tls ? 443 : 80;
  }
  e.target = std::string(u.encoded_target());
  if (e.target.empty()) e.target = "/";
  if (e.target[0] != '/') e.target = "/" + e.target;
  if (u.has_userinfo()) e.basic_auth = std::string(u.userinfo());
  return e;
}

// One connection: its own io_context, so a call drives it on the caller's thread and any
// number of connections run in parallel without a shared event loop.
struct Connection {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  absl::Time last_used = absl::InfinitePast();
  bool reused = false;

  beast::tcp_stream& lowest() { return tls.has_value() ? beast::get_lowest_layer(*tls) : *plain; }
  void Close() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().socket().close(ignored);
  }
};

class HttpTransport::Impl {
 public:
  Impl(EndpointUrl url, TransportOptions options, std::optional<ssl::context> ssl_ctx)
      : url_(std::move(url)),
        options_(std::move(options)),
        ssl_ctx_(std::move(ssl_ctx)),
        redacted_(url_.Redacted()),
        host_header_(HostHeader()) {}

  absl::StatusOr<HttpResponse> Post(absl::string_view body, absl::Time deadline, bool idempotent) {
    requests_.fetch_add(1, std::memory_order_relaxed);
    std::unique_ptr<Connection> conn = TakeIdle();
    const bool reused = conn != nullptr;
    if (reused) reused_.fetch_add(1, std::memory_order_relaxed);
    for (int attempt = 0;; ++attempt) {
      bool retry_fresh = false;
      absl::StatusOr<HttpResponse> r = Exchange(conn, body, deadline, &retry_fresh);
      if (r.ok() || !retry_fresh || attempt > 0 || !idempotent) return r;
      conn.reset();  // a stale keep-alive connection: once more on a fresh one
    }
  }

  const std::string& redacted() const { return redacted_; }
  Stats stats() const {
    return {requests_.load(), opened_.load(), reused_.load()};
  }

 private:
  std::string HostHeader() const {
    const bool default_port = url_.port == (url_.tls ? 443 : 80);
    const bool v6 = url_.host.find(':') != std::string::npos;
    std::string h = v6 ? absl::StrCat("[", url_.host, "]") : url_.host;
    if (!default_port) absl::StrAppend(&h, ":", url_.port);
    return h;
  }

  std::unique_ptr<Connection> TakeIdle() {
    absl::MutexLock lock(&mu_);
    while (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      if (absl::Now() - c->last_used < options_.idle_timeout) return c;
      c->Close();
    }
    return nullptr;
  }

  void GiveBack(std::unique_ptr<Connection> c) {
    c->last_used = absl::Now();
    c->reused = true;
    absl::MutexLock lock(&mu_);
    if (idle_.size() < options_.max_idle_connections) {
      idle_.push_back(std::move(c));
    } else {
      c->Close();
    }
  }

  absl::Status Fail(absl::string_view what, const beast::error_code& ec, bool maybe_sent) const {
    return TransportError(absl::StatusCode::kUnavailable,
                          absl::StrCat(redacted_, ": ", what, ": ", ec.message()),
                          {.maybe_sent = maybe_sent, .endpoint = redacted_});
  }
  absl::Status Timeout(absl::string_view what, bool maybe_sent) const {
    return TransportError(absl::StatusCode::kUnavailable,
                          absl::StrCat(redacted_, ": ", what, ": timed out"),
                          {.maybe_sent = maybe_sent, .endpoint = redacted_});
  }

  // Runs conn's io_context until `done` or `until`; on timeout closes the socket (which aborts
  // the pending operation) and drains. Returns false on timeout.
  static bool RunUntil(Connection& conn, const bool& done, std::chrono::steady_clock::time_point until,
                       tcp::resolver* resolver = nullptr) {
    conn.ioc.restart();
    while (!done && std::chrono::steady_clock::now() < until) {
      if (conn.ioc.run_one_until(until) == 0 && conn.ioc.stopped()) break;
    }
    if (done) return true;
    if (resolver != nullptr) resolver->cancel();
    if (conn.plain.has_value() || conn.tls.has_value()) {
      beast::error_code ignored;
      conn.lowest().socket().close(ignored);
    }
    conn.ioc.restart();
    conn.ioc.run();
    return false;
  }

  absl::StatusOr<std::unique_ptr<Connection>> Open(absl::Time deadline) {
    auto conn = std::make_unique<Connection>();
    const auto until = ToSteady(std::min(deadline, absl::Now() + options_.connect_timeout));
    tcp::resolver resolver(conn->ioc);
    tcp::resolver::results_type endpoints;
    beast::error_code ec;
    bool done = false;
    resolver.async_resolve(url_.host, std::to_string(url_.port),
                           [&](const beast::error_code& e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                             done = true;
                           });
    if (!RunUntil(*conn, done, until, &resolver)) return Timeout("resolve", false);
    if (ec) return Fail("resolve", ec, false);

    if (url_.tls) {
      conn->tls.emplace(conn->ioc, *ssl_ctx_);
      if (!IsIpLiteral(url_.host) &&
          !SSL_set_tlsext_host_name(conn->tls->native_handle(), url_.host.c_str())) {
        return TransportError(absl::StatusCode::kUnavailable, absl::StrCat(redacted_, ": cannot set SNI"),
                              {.maybe_sent = false, .endpoint = redacted_});
      }
      conn->tls->set_verify_mode(ssl::verify_peer);
      conn->tls->set_verify_callback(ssl::host_name_verification(url_.host));
    } else {
      conn->plain.emplace(conn->ioc);
    }
    done = false;
    conn->lowest().async_connect(endpoints, [&](const beast::error_code& e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    if (!RunUntil(*conn, done, until)) return Timeout("connect", false);
    if (ec) return Fail("connect", ec, false);
    conn->lowest().socket().set_option(tcp::no_delay(true), ec);
    if (url_.tls) {
      done = false;
      conn->tls->async_handshake(ssl::stream_base::client, [&](const beast::error_code& e) {
        ec = e;
        done = true;
      });
      if (!RunUntil(*conn, done, until)) return Timeout("tls handshake", false);
      if (ec) return Fail("tls handshake", ec, false);
    }
    opened_.fetch_add(1, std::memory_order_relaxed);
    return conn;
  }

  // One request/response. `conn` may be null (a new one is opened). On success the
  // connection goes back to the pool when the server keeps it alive.
  absl::StatusOr<HttpResponse> Exchange(std::unique_ptr<Connection>& conn, absl::string_view body,
                                        absl::Time deadline, bool* retry_fresh) {
    if (conn == nullptr) {
      absl::StatusOr<std::unique_ptr<Connection>> c = Open(deadline);
      if (!c.ok()) return c.status();
      conn = *std::move(c);
    }
    const bool was_reused = conn->reused;
    http::request<http::string_body> req{http::verb::post, url_.target, 11};
    req.set(http::field::host, host_header_);
    req.set(http::field::user_agent, options_.user_agent);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "application/json");
    req.keep_alive(true);
    if (!url_.basic_auth.empty()) req.set(http::field::authorization, "Basic " + Base64(url_.basic_auth));
    for (const auto& [name, value] : options_.headers) req.set(name, value);
    req.body() = std::string(body);
    req.prepare_payload();

    const auto until = ToSteady(std::min(deadline, absl::Now() + options_.request_timeout));
    beast::error_code ec;
    bool done = false;
    auto on_write = [&](const beast::error_code& e, size_t) {
      ec = e;
      done = true;
    };
    if (conn->tls.has_value()) {
      http::async_write(*conn->tls, req, on_write);
    } else {
      http::async_write(*conn->plain, req, on_write);
    }
    if (!RunUntil(*conn, done, until)) {
      conn.reset();
      return Timeout("write", true);
    }
    if (ec) {
      *retry_fresh = was_reused && IsStaleConnectionError(ec);
      conn.reset();
      return Fail("write", ec, true);
    }

    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    parser.header_limit(64 * 1024);
    done = false;
    size_t got = 0;
    auto on_read = [&](const beast::error_code& e, size_t n) {
      ec = e;
      got = n;
      done = true;
    };
    conn->buffer.clear();
    if (conn->tls.has_value()) {
      http::async_read(*conn->tls, conn->buffer, parser, on_read);
    } else {
      http::async_read(*conn->plain, conn->buffer, parser, on_read);
    }
    if (!RunUntil(*conn, done, until)) {
      conn.reset();
      return Timeout("read", true);
    }
    if (ec) {
      *retry_fresh = was_reused && got == 0 && IsStaleConnectionError(ec);
      conn.reset();
      return Fail("read", ec, true);
    }
    http::response<http::string_body> res = parser.release();
    HttpResponse out;
    out.status = res.result_int();
    out.content_type = std::string(res[http::field::content_type]);
    out.body = std::move(res.body());
    if (res.keep_alive()) {
      GiveBack(std::move(conn));
    } else {
      conn->Close();
      conn.reset();
    }
    return out;
  }

  const EndpointUrl url_;
  const TransportOptions options_;
  std::optional<ssl::context> ssl_ctx_;
  const std::string redacted_;
  const std::string host_header_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> opened_{0};
  std::atomic<uint64_t> reused_{0};
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<HttpTransport>> HttpTransport::Create(absl::string_view url,
                                                                     const TransportOptions& options) {
  absl::StatusOr<EndpointUrl> parsed = ParseEndpointUrl(url);
  if (!parsed.ok()) return parsed.status();
  try {
    std::optional<ssl::context> ctx;
    if (parsed->tls) {
      ctx.emplace(ssl::context::tls_client);
      beast::error_code ec;
      ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                       ec);
      if (ec) return absl::InternalError(absl::StrCat("tls context: ", ec.message()));
      ctx->set_default_verify_paths(ec);
      if (ec) return absl::InternalError(absl::StrCat("tls context: system trust store: ", ec.message()));
      if (!options.extra_ca_file.empty()) {
        ctx->load_verify_file(options.extra_ca_file, ec);
        if (ec) {
          return absl::InvalidArgumentError(
              absl::StrCat("extra_ca_file ", options.extra_ca_file, ": ", ec.message()));
        }
      }
      ctx->set_verify_mode(ssl::verify_peer, ec);
      if (ec) return absl::InternalError(absl::StrCat("tls context: ", ec.message()));
    }
    return std::unique_ptr<HttpTransport>(
        new HttpTransport(std::make_unique<Impl>(*std::move(parsed), options, std::move(ctx))));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("http transport: ", e.what()));
  }
}

HttpTransport::HttpTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpTransport::~HttpTransport() = default;

absl::StatusOr<HttpResponse> HttpTransport::Post(absl::string_view body, absl::Time deadline,
                                                 bool idempotent) {
  // Boost throws only on allocation failure or programming errors; keep them at this edge.
  try {
    return impl_->Post(body, deadline, idempotent);
  } catch (const std::exception& e) {
    return TransportError(absl::StatusCode::kUnavailable,
                          absl::StrCat(impl_->redacted(), ": ", e.what()),
                          {.maybe_sent = true, .endpoint = impl_->redacted()});
  }
}

const std::string& HttpTransport::redacted_url() const { return impl_->redacted(); }

HttpTransport::Stats HttpTransport::stats() const { return impl_->stats(); }

}  // namespace chain::jsonrpc
