#include "platform/http/connection.h"

#include <poll.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "platform/http/tls_context.h"
#include "platform/status_macros.h"

namespace platform::http {
namespace {

namespace beast = boost::beast;
using tcp = boost::asio::ip::tcp;

std::chrono::steady_clock::time_point ToSteady(absl::Time t) {
  const absl::Duration left = t - absl::Now();
  const auto now = std::chrono::steady_clock::now();
  if (left <= absl::ZeroDuration()) return now;
  if (left > absl::Hours(24 * 365)) return now + std::chrono::hours(24 * 365);
  return now + absl::ToChronoNanoseconds(left);
}

// What a server's close of an idle keep-alive connection looks like on the next exchange.
bool IsPeerClose(const beast::error_code& ec) {
  namespace error = boost::asio::error;
  return ec == beast::http::error::end_of_stream || ec == error::eof || ec == error::connection_reset ||
         ec == error::broken_pipe || ec == error::connection_aborted || ec == boost::asio::ssl::error::stream_truncated;
}

beast::http::request<beast::http::string_body> ToBeast(const Request& request, const std::string& host) {
  beast::http::request<beast::http::string_body> req;
  req.version(11);
  req.method_string(request.method);
  req.target(request.target);
  req.set(beast::http::field::host, host);
  for (const auto& [name, value] : request.headers) req.set(name, value);
  req.body() = request.body;
  req.prepare_payload();
  req.keep_alive(true);
  return req;
}

Response FromBeast(beast::http::response<beast::http::string_body>&& res) {
  Response out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    out.headers.emplace_back(absl::AsciiStrToLower(std::string(field.name_string())), std::string(field.value()));
  }
  out.body = std::move(res.body());
  return out;
}

}  // namespace

Connection::~Connection() {
  beast::error_code ignored;
  if (plain_ || secure_) {
    tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp().socket().close(ignored);
  }
}

beast::tcp_stream& Connection::tcp() { return secure_ ? beast::get_lowest_layer(*secure_) : *plain_; }

absl::Status Connection::Failure(const char* phase, const std::string& why) const {
  return absl::UnavailableError(absl::StrCat(url_.Origin(), ": ", phase, " failed: ", why));
}

absl::Status Connection::Timeout(const char* phase, SendInfo* info) const {
  info->timed_out = true;
  return absl::UnavailableError(absl::StrCat(url_.Origin(), ": ", phase, ": timed out"));
}

bool Connection::RunUntil(const bool& done, absl::Time until) {
  const auto limit = ToSteady(until);
  ioc_.restart();
  while (!done && std::chrono::steady_clock::now() < limit) {
    if (ioc_.run_one_until(limit) == 0 && ioc_.stopped()) break;
  }
  if (done) return true;
  beast::error_code ignored;
  if (resolver_ != nullptr) resolver_->cancel();  // aborts the pending operation
  if (plain_ || secure_) tcp().socket().close(ignored);
  ioc_.restart();
  ioc_.run();
  return false;
}

bool Connection::LooksAlive() {
  if (!tcp().socket().is_open()) return false;
  pollfd p{};
  p.fd = tcp().socket().native_handle();
  p.events = POLLIN;
  return ::poll(&p, 1, 0) == 0;
}

absl::StatusOr<std::vector<tcp::endpoint>> Connection::Resolve(absl::Time until, SendInfo* info) {
  const std::string port = std::to_string(url_.port);
  // An IP literal needs no resolver: Asio's async_resolve runs getaddrinfo on a thread it starts
  // for each io_context, i.e. one thread per new connection here.
  beast::error_code ec;
  const boost::asio::ip::address literal = boost::asio::ip::make_address(url_.host, ec);
  if (!ec) return std::vector<tcp::endpoint>{tcp::endpoint(literal, url_.port)};
  tcp::resolver resolver(ioc_);
  resolver_ = &resolver;
  tcp::resolver::results_type results;
  bool done = false;
  resolver.async_resolve(url_.host, port, [&](const beast::error_code& e, tcp::resolver::results_type r) {
    ec = e;
    results = std::move(r);
    done = true;
  });
  const bool resolved = RunUntil(done, until);
  resolver_ = nullptr;
  if (!resolved) return Timeout("resolve", info);
  if (ec) return Failure("resolve", ec.message());
  std::vector<tcp::endpoint> endpoints;
  for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  return endpoints;
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const Url& url, boost::asio::ssl::context* tls,
                                                             absl::Time until, SendInfo* info) {
  std::unique_ptr<Connection> c(new Connection(url));
  ASSIGN_OR_RETURN(std::vector<tcp::endpoint> endpoints, c->Resolve(until, info));
  if (tls != nullptr) {
    c->secure_.emplace(c->ioc_, *tls);
  } else {
    c->plain_.emplace(c->ioc_);
  }
  RETURN_IF_ERROR(c->Connect(endpoints, until, info));
  if (tls != nullptr) RETURN_IF_ERROR(c->Handshake(until, info));
  return c;
}

absl::Status Connection::Connect(const std::vector<tcp::endpoint>& endpoints, absl::Time until, SendInfo* info) {
  beast::error_code ec;
  bool done = false;
  tcp().async_connect(endpoints, [&](const beast::error_code& e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  if (!RunUntil(done, until)) return Timeout("connect", info);
  if (ec) return Failure("connect", ec.message());
  tcp().socket().set_option(tcp::no_delay(true), ec);
  return absl::OkStatus();
}

absl::Status Connection::Handshake(absl::Time until, SendInfo* info) {
  RETURN_IF_ERROR(ExpectPeer(secure_->native_handle(), url_));
  beast::error_code ec;
  bool done = false;
  secure_->async_handshake(boost::asio::ssl::stream_base::client, [&](const beast::error_code& e) {
    ec = e;
    done = true;
  });
  if (!RunUntil(done, until)) return Timeout("tls handshake", info);
  if (!ec) return absl::OkStatus();
  if (const std::string why = CertificateRejection(secure_->native_handle()); !why.empty()) {
    info->certificate_rejected = true;
    return Failure("tls handshake", absl::StrCat("certificate verify failed: ", why));
  }
  return Failure("tls handshake", ec.message());
}

absl::StatusOr<Response> Connection::Exchange(const Request& request, absl::Time until, size_t max_response_bytes,
                                              SendInfo* info, bool* stale) {
  reusable_ = false;
  *stale = false;
  auto req = ToBeast(request, url_.HostHeader());
  beast::error_code ec;
  bool done = false;
  auto on_done = [&](const beast::error_code& e, size_t) {
    ec = e;
    done = true;
  };
  info->write_started = true;
  if (secure_) {
    beast::http::async_write(*secure_, req, on_done);
  } else {
    beast::http::async_write(*plain_, req, on_done);
  }
  if (!RunUntil(done, until)) return Timeout("write", info);
  if (ec) {
    *stale = IsPeerClose(ec);
    return Failure("write", ec.message());
  }
  info->request_written = true;

  beast::http::response_parser<beast::http::string_body> parser;
  parser.body_limit(max_response_bytes);
  parser.header_limit(64 * 1024);
  done = false;
  if (secure_) {
    beast::http::async_read(*secure_, buffer_, parser, on_done);
  } else {
    beast::http::async_read(*plain_, buffer_, parser, on_done);
  }
  if (!RunUntil(done, until)) return Timeout("read", info);
  if (ec == beast::http::error::body_limit) {
    return Failure("read", absl::StrCat("response larger than ", max_response_bytes, " bytes"));
  }
  if (ec) {
    *stale = IsPeerClose(ec) && !parser.got_some();
    return Failure("read", IsPeerClose(ec) ? "connection closed before a complete response" : ec.message());
  }
  auto res = parser.release();
  reusable_ = res.keep_alive() && buffer_.size() == 0;
  return FromBeast(std::move(res));
}

}  // namespace platform::http
