#include "platform/http/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "absl/container/inlined_vector.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
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

// Beast's verb::post, put, options: the methods whose empty body still gets "Content-Length: 0".
bool EmptyBodyHasLength(absl::string_view method) { return method == "POST" || method == "PUT" || method == "OPTIONS"; }

// The request as the bytes Beast's serializer wrote for the message we used to build for it
// (version 11, `set` for Host and then for each header, prepare_payload): one header per name
// (case-insensitive), a later one replacing an earlier one at the end; Content-Length for a body
// and for an empty POST, PUT or OPTIONS. (Beast also dropped a "close" token from a Connection
// header and "chunked" from a Transfer-Encoding header; no caller sends either.)
std::string RequestBytes(const Request& request, const std::string& host) {
  absl::InlinedVector<std::pair<absl::string_view, absl::string_view>, 12> fields;
  auto set = [&fields](absl::string_view name, absl::string_view value) {
    fields.erase(std::remove_if(fields.begin(), fields.end(),
                                [name](const auto& f) { return absl::EqualsIgnoreCase(f.first, name); }),
                 fields.end());
    fields.emplace_back(name, value);
  };
  set("Host", host);
  for (const auto& [name, value] : request.headers) set(name, value);
  const std::string length = std::to_string(request.body.size());
  if (!request.body.empty() || EmptyBodyHasLength(request.method)) set("Content-Length", length);
  size_t size = request.method.size() + request.target.size() + 13 + request.body.size();
  for (const auto& [name, value] : fields) size += name.size() + value.size() + 4;
  std::string out;
  out.reserve(size);
  absl::StrAppend(&out, request.method, " ", request.target, " HTTP/1.1\r\n");
  for (const auto& [name, value] : fields) absl::StrAppend(&out, name, ": ", value, "\r\n");
  absl::StrAppend(&out, "\r\n", request.body);
  return out;
}

// Waits until `fd` is ready for `events` or `until` passes (false). An error of poll(2) itself
// returns true: the next send or recv reports it.
bool WaitFor(int fd, short events, absl::Time until) {
  pollfd p{};
  p.fd = fd;
  p.events = events;
  for (;;) {
    const absl::Duration left = until - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    const timespec limit = absl::ToTimespec(std::min(left, absl::Hours(24)));
    const int n = ::ppoll(&p, 1, &limit, nullptr);
    if (n > 0 || (n < 0 && errno != EINTR)) return true;
  }
}

beast::error_code LastError() { return beast::error_code(errno, boost::system::system_category()); }

bool WouldBlock() { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

Response FromBeast(beast::http::response<beast::http::string_body>&& res) {
  Response out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    auto& [name, value] = out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    absl::AsciiStrToLower(&name);
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
  // Exchanges on plain TCP block in recv(2) under SO_RCVTIMEO and send with MSG_DONTWAIT.
  if (plain_) tcp().socket().native_non_blocking(false, ec);
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

beast::error_code Connection::Write(const std::string& bytes, absl::Time until, bool* timed_out) {
  beast::error_code ec;
  if (secure_) {
    bool done = false;
    boost::asio::async_write(*secure_, boost::asio::buffer(bytes), [&](const beast::error_code& e, size_t) {
      ec = e;
      done = true;
    });
    *timed_out = !RunUntil(done, until);
    return ec;
  }
  const int fd = plain_->socket().native_handle();
  // As RunUntil did: a deadline already past writes nothing.
  *timed_out = absl::Now() >= until;
  for (size_t sent = 0; sent < bytes.size() && !*timed_out;) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
    } else if (!WouldBlock()) {
      return LastError();
    } else if (errno != EINTR) {
      *timed_out = !WaitFor(fd, POLLOUT, until);
    }
  }
  return ec;
}

beast::error_code Connection::Read(ResponseParser& parser, absl::Time until, bool* timed_out) {
  if (!secure_) return ReadPlain(parser, until, timed_out);
  beast::error_code ec;
  bool done = false;
  beast::http::async_read(*secure_, buffer_, parser, [&](const beast::error_code& e, size_t) {
    ec = e;
    done = true;
  });
  *timed_out = !RunUntil(done, until);
  return ec;
}

bool Connection::BoundRecvWait(int fd, absl::Time until) {
  const absl::Duration left = until - absl::Now();
  if (left <= absl::ZeroDuration()) return false;
  const absl::Duration want = std::min(left, kRecvSlice);
  if (recv_timeout_ > left || recv_timeout_ < want / 2) {
    timeval tv = absl::ToTimeval(want);
    if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1;  // zero would be "no limit"
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) return WaitFor(fd, POLLIN, until);
    recv_timeout_ = want;
  }
  return true;
}

beast::error_code Connection::ReadPlain(ResponseParser& parser, absl::Time until, bool* timed_out) {
  const int fd = plain_->socket().native_handle();
  parser.eager(true);
  beast::error_code ec;
  for (;;) {
    if (buffer_.size() > 0) {
      const size_t used = parser.put(buffer_.data(), ec);
      buffer_.consume(used);
      if (parser.is_done()) return {};
      if (ec == beast::http::error::need_more) {
        ec = {};
      } else if (ec) {
        return ec;
      } else if (used > 0 && buffer_.size() > 0) {
        continue;
      }
    }
    // A blocking recv(2) bounded by SO_RCVTIMEO: one system call where poll + recv were two.
    if (!BoundRecvWait(fd, until)) {
      *timed_out = true;
      return {};
    }
    const auto space = buffer_.prepare(beast::read_size(buffer_, 65536));
    const ssize_t n = ::recv(fd, space.data(), space.size(), 0);
    if (n > 0) {
      buffer_.commit(static_cast<size_t>(n));
    } else if (n == 0) {
      // What Beast's read does at the end of the stream.
      if (!parser.got_some()) return beast::http::error::end_of_stream;
      parser.put_eof(ec);
      return ec;
    } else if (!WouldBlock()) {
      return LastError();
    }
  }
}

absl::StatusOr<Response> Connection::Exchange(const Request& request, absl::Time until, size_t max_response_bytes,
                                              SendInfo* info, bool* stale) {
  reusable_ = false;
  *stale = false;
  const std::string bytes = RequestBytes(request, url_.HostHeader());
  bool timed_out = false;
  info->write_started = true;
  beast::error_code ec = Write(bytes, until, &timed_out);
  if (timed_out) return Timeout("write", info);
  if (ec) {
    *stale = IsPeerClose(ec);
    return Failure("write", ec.message());
  }
  info->request_written = true;

  if (buffer_.capacity() < kReadBufferBytes) buffer_.reserve(kReadBufferBytes);
  ResponseParser parser;
  parser.body_limit(max_response_bytes);
  parser.header_limit(64 * 1024);
  ec = Read(parser, until, &timed_out);
  if (timed_out) return Timeout("read", info);
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
