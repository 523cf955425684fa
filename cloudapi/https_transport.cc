// The only file of cloudapi/ that includes OpenSSL headers (through Boost.Asio's SSL layer, plus
// <openssl/ssl.h> / <openssl/x509v3.h> for SNI and host-name checks that Asio does not expose).
// Everything else of the project reaches OpenSSL through crypto/.
#include "cloudapi/https_transport.h"

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace cloudapi {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  return absl::ToChronoNanoseconds(d);
}

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// "connection reset by peer" etc.; Asio messages carry no request data.
std::string Describe(const beast::error_code& ec) { return ec.message(); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// BaseUrl

bool BaseUrl::IsLoopback() const {
  if (absl::AsciiStrToLower(host) == "localhost") return true;
  boost::system::error_code ec;
  asio::ip::address a = asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

std::string BaseUrl::Origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat(tls ? "https" : "http", "://", v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
}

absl::StatusOr<BaseUrl> ParseBaseUrl(absl::string_view text) {
  boost::system::result<boost::urls::url_view> parsed =
      boost::urls::parse_absolute_uri(boost::core::string_view(text.data(), text.size()));
  if (!parsed) return absl::InvalidArgumentError("base url: not an absolute http(s) url");
  const boost::urls::url_view& u = *parsed;
  BaseUrl out;
  const std::string scheme = absl::AsciiStrToLower(std::string(u.scheme()));
  if (scheme == "https") {
    out.tls = true;
    out.port = 443;
  } else if (scheme == "http") {
    out.tls = false;
    out.port = 80;
  } else {
    return absl::InvalidArgumentError("base url: scheme must be http or https");
  }
  if (u.has_userinfo()) return absl::InvalidArgumentError("base url: user info is not allowed");
  if (u.has_query() || u.has_fragment()) {
    return absl::InvalidArgumentError("base url: query and fragment are not allowed");
  }
  switch (u.host_type()) {
    case boost::urls::host_type::ipv6:
      out.host = std::string(u.host_address());
      break;
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::name:
      out.host = absl::AsciiStrToLower(std::string(u.host_address()));
      break;
    default:
      return absl::InvalidArgumentError("base url: unsupported host");
  }
  if (out.host.empty()) return absl::InvalidArgumentError("base url: missing host");
  if (u.has_port()) {
    uint32_t port = 0;
    if (!absl::SimpleAtoi(std::string(u.port()), &port) || port == 0 || port > 65535) {
      return absl::InvalidArgumentError("base url: bad port");
    }
    out.port = static_cast<uint16_t>(port);
  }
  out.path_prefix = std::string(u.encoded_path());
  while (!out.path_prefix.empty() && out.path_prefix.back() == '/') out.path_prefix.pop_back();
  return out;
}

const std::string* HttpResponse::Header(absl::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Connections

namespace {

// One keep-alive connection with its own io_context: the calling thread drives the asynchronous
// operations (which carry Beast's timeouts) with run(), so no I/O thread is needed.
struct Connection {
  asio::io_context ioc;  // first member: destroyed last
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  absl::Time last_used;

  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  void Run() {
    ioc.restart();
    ioc.run();
  }

  void Close() {
    beast::error_code ec;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp().socket().close(ec);
  }

  // An idle keep-alive connection has nothing to read; readable means the peer closed it (EOF,
  // TLS close_notify, reset) or sent something unexpected. Either way it must not be reused.
  bool LooksAlive() {
    if (!tcp().socket().is_open()) return false;
    pollfd p{};
    p.fd = tcp().socket().native_handle();
    p.events = POLLIN;
    return ::poll(&p, 1, 0) == 0;
  }
};

}  // namespace

struct HttpsTransport::Impl {
  BaseUrl url;
  TransportOptions options;
  std::string host_header;
  std::optional<ssl::context> ssl_ctx;

  absl::Mutex mu;
  std::vector<std::unique_ptr<Connection>> idle ABSL_GUARDED_BY(mu);

  std::atomic<uint64_t> requests{0}, opened{0}, reused{0}, stale{0};

  // An idle live connection, or nullptr.
  std::unique_ptr<Connection> TakeIdle() {
    std::vector<std::unique_ptr<Connection>> dead;  // closed outside the lock
    std::unique_ptr<Connection> found;
    {
      absl::MutexLock lock(&mu);
      const absl::Time now = absl::Now();
      while (!idle.empty()) {
        std::unique_ptr<Connection> c = std::move(idle.back());
        idle.pop_back();
        if (now - c->last_used <= options.idle_timeout && c->LooksAlive()) {
          found = std::move(c);
          break;
        }
        dead.push_back(std::move(c));
      }
    }
    stale += dead.size();
    for (auto& c : dead) c->Close();
    return found;
  }

  void GiveBack(std::unique_ptr<Connection> c) {
    c->last_used = absl::Now();
    {
      absl::MutexLock lock(&mu);
      if (idle.size() < options.max_idle_connections) {
        idle.push_back(std::move(c));
        return;
      }
    }
    c->Close();  // pool full
  }

  absl::StatusOr<std::unique_ptr<Connection>> Connect(absl::Time deadline, bool* permanent);
  absl::StatusOr<HttpResponse> Exchange(Connection& c, const HttpRequest& request,
                                        absl::Time deadline, bool* written, bool* reusable);
};

absl::StatusOr<std::unique_ptr<Connection>> HttpsTransport::Impl::Connect(absl::Time deadline,
                                                                          bool* permanent) {
  auto c = std::make_unique<Connection>();
  const std::string origin = url.Origin();
  const absl::Time connect_deadline = std::min(deadline, absl::Now() + options.connect_timeout);

  // Resolve, bounded by the connect deadline.
  tcp::resolver resolver(c->ioc);
  asio::steady_timer timer(c->ioc);
  beast::error_code ec;
  bool timed_out = false;
  tcp::resolver::results_type results;
  timer.expires_after(ToChrono(connect_deadline - absl::Now()));
  timer.async_wait([&](beast::error_code e) {
    if (!e) {
      timed_out = true;
      resolver.cancel();
    }
  });
  resolver.async_resolve(url.host, std::to_string(url.port),
                         [&](beast::error_code e, tcp::resolver::results_type r) {
                           ec = e;
                           results = std::move(r);
                           timer.cancel();
                         });
  c->Run();
  if (timed_out) return absl::DeadlineExceededError(absl::StrCat(origin, ": name resolution timed out"));
  if (ec) return absl::UnavailableError(absl::StrCat(origin, ": cannot resolve host: ", Describe(ec)));

  if (url.tls) {
    c->secure.emplace(c->ioc, *ssl_ctx);
  } else {
    c->plain.emplace(c->ioc);
  }
  beast::tcp_stream& stream = c->tcp();
  stream.expires_after(ToChrono(connect_deadline - absl::Now()));
  stream.async_connect(results, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  c->Run();
  if (ec == beast::error::timeout) {
    return absl::DeadlineExceededError(absl::StrCat(origin, ": connect timed out"));
  }
  if (ec) return absl::UnavailableError(absl::StrCat(origin, ": connect failed: ", Describe(ec)));
  stream.socket().set_option(tcp::no_delay(true), ec);

  if (url.tls) {
    SSL* ssl = c->secure->native_handle();
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (IsIpLiteral(url.host)) {
      // RFC 6066: no SNI for IP literals; the certificate must carry the IP in a SAN.
      if (X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str()) != 1) {
        return absl::InternalError(absl::StrCat(origin, ": cannot set the expected ip address"));
      }
    } else {
      if (SSL_set_tlsext_host_name(ssl, url.host.c_str()) != 1) {
        return absl::InternalError(absl::StrCat(origin, ": cannot set SNI"));
      }
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0) != 1) {
        return absl::InternalError(absl::StrCat(origin, ": cannot set the expected host name"));
      }
    }
    SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
    stream.expires_after(ToChrono(connect_deadline - absl::Now()));
    c->secure->async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    c->Run();
    if (ec == beast::error::timeout) {
      return absl::DeadlineExceededError(absl::StrCat(origin, ": tls handshake timed out"));
    }
    if (ec) {
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        *permanent = true;
        return absl::UnavailableError(absl::StrCat(origin, ": tls: certificate rejected: ",
                                                   X509_verify_cert_error_string(verify)));
      }
      return absl::UnavailableError(absl::StrCat(origin, ": tls handshake failed: ", Describe(ec)));
    }
  }
  opened++;
  return c;
}

absl::StatusOr<HttpResponse> HttpsTransport::Impl::Exchange(Connection& c,
                                                            const HttpRequest& request,
                                                            absl::Time deadline, bool* written,
                                                            bool* reusable) {
  const std::string origin = url.Origin();
  const absl::Time request_deadline = std::min(deadline, absl::Now() + options.request_timeout);
  http::request<http::string_body> req;
  req.version(11);
  req.method_string(request.method);
  req.target(request.target);
  req.set(http::field::host, host_header);
  for (const auto& [name, value] : request.headers) req.set(name, value);
  req.body() = request.body;
  req.prepare_payload();
  req.keep_alive(true);

  beast::error_code ec;
  beast::tcp_stream& stream = c.tcp();
  stream.expires_after(ToChrono(request_deadline - absl::Now()));
  if (c.secure) {
    http::async_write(*c.secure, req, [&](beast::error_code e, size_t) { ec = e; });
  } else {
    http::async_write(*c.plain, req, [&](beast::error_code e, size_t) { ec = e; });
  }
  c.Run();
  if (ec == beast::error::timeout) {
    return absl::DeadlineExceededError(absl::StrCat(origin, ": timed out sending the request"));
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat(origin, ": connection lost while sending the request: ", Describe(ec)));
  }
  *written = true;

  http::response_parser<http::string_body> parser;
  parser.body_limit(options.max_response_bytes);
  parser.header_limit(64 * 1024);
  stream.expires_after(ToChrono(request_deadline - absl::Now()));
  if (c.secure) {
    http::async_read(*c.secure, c.buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
  } else {
    http::async_read(*c.plain, c.buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
  }
  c.Run();
  if (ec == beast::error::timeout) {
    return absl::DeadlineExceededError(
        absl::StrCat(origin, ": timed out waiting for the response"));
  }
  if (ec == http::error::body_limit) {
    return absl::UnavailableError(absl::StrCat(origin, ": response larger than ",
                                               options.max_response_bytes, " bytes"));
  }
  if (ec == http::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == ssl::error::stream_truncated) {
    return absl::UnavailableError(
        absl::StrCat(origin, ": connection closed before a complete response"));
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat(origin, ": reading the response failed: ", Describe(ec)));
  }
  http::response<http::string_body> res = parser.release();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    out.headers.emplace_back(absl::AsciiStrToLower(std::string(field.name_string())),
                             std::string(field.value()));
  }
  out.body = std::move(res.body());
  *reusable = res.keep_alive() && c.buffer.size() == 0;
  return out;
}

// ---------------------------------------------------------------------------------------------
// HttpsTransport

HttpsTransport::HttpsTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpsTransport::~HttpsTransport() {
  std::vector<std::unique_ptr<Connection>> idle;
  {
    absl::MutexLock lock(&impl_->mu);
    idle.swap(impl_->idle);
  }
  for (auto& c : idle) c->Close();
}

absl::StatusOr<std::unique_ptr<HttpsTransport>> HttpsTransport::Create(BaseUrl url,
                                                                       TransportOptions options) {
  auto impl = std::make_unique<Impl>();
  const bool default_port = url.port == (url.tls ? 443 : 80);
  const bool v6 = url.host.find(':') != std::string::npos;
  impl->host_header = absl::StrCat(v6 ? "[" : "", url.host, v6 ? "]" : "",
                                   default_port ? "" : absl::StrCat(":", url.port));
  if (url.tls) {
    impl->ssl_ctx.emplace(ssl::context::tls_client);
    ssl::context& ctx = *impl->ssl_ctx;
    if (SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION) != 1) {
      return absl::InternalError("tls: cannot set the minimum protocol version");
    }
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_compression);
    beast::error_code ec;
    ctx.set_default_verify_paths(ec);
    if (ec) return absl::InternalError("tls: cannot load the system CA store");
    if (!options.extra_ca_file.empty()) {
      ctx.load_verify_file(options.extra_ca_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("tls: cannot load CA file ", options.extra_ca_file));
      }
    }
    ctx.set_verify_mode(ssl::verify_peer);
  }
  impl->url = std::move(url);
  impl->options = std::move(options);
  return std::unique_ptr<HttpsTransport>(new HttpsTransport(std::move(impl)));
}

absl::StatusOr<HttpResponse> HttpsTransport::Send(const HttpRequest& request, absl::Time deadline,
                                                  SendInfo* info) {
  *info = SendInfo{};
  impl_->requests++;
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError(absl::StrCat(impl_->url.Origin(), ": deadline passed"));
  }
  std::unique_ptr<Connection> c = impl_->TakeIdle();
  if (c) {
    impl_->reused++;
  } else {
    absl::StatusOr<std::unique_ptr<Connection>> fresh = impl_->Connect(deadline, &info->permanent);
    if (!fresh.ok()) return fresh.status();
    c = std::move(*fresh);
  }
  bool reusable = false;
  absl::StatusOr<HttpResponse> res = impl_->Exchange(*c, request, deadline, &info->request_written, &reusable);
  if (res.ok() && reusable) {
    impl_->GiveBack(std::move(c));
  } else {
    c->Close();
  }
  return res;
}

HttpsTransport::Stats HttpsTransport::stats() const {
  Stats s;
  s.requests = impl_->requests.load();
  s.connections_opened = impl_->opened.load();
  s.connections_reused = impl_->reused.load();
  s.stale_connections_dropped = impl_->stale.load();
  return s;
}

const BaseUrl& HttpsTransport::url() const { return impl_->url; }

}  // namespace cloudapi
