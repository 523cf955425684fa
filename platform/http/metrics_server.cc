#include "platform/http/metrics_server.h"

#include <chrono>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace platform::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";
constexpr size_t kFirstRead = 512;

std::chrono::steady_clock::duration Chrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

}  // namespace

struct MetricsServer::Impl {
  class Session;

  MetricsServerOptions options;
  BodyFn body;
  asio::io_context ioc;  // before the acceptor and the sessions: destroyed after them
  tcp::acceptor acceptor{ioc};
  std::set<std::shared_ptr<Session>> sessions;  // I/O thread only
  bool stopping = false;                        // I/O thread only
  int port = 0;
  std::thread thread;
  bool joined = false;

  void Accept();
  // At max_connections, closes an idle keep-alive connection; false if none is idle.
  bool MakeRoom();
  void Close(const std::shared_ptr<Session>& s) { sessions.erase(s); }
};

// One connection: the first request's header must arrive within header_timeout of the
// connect; after each answer, wait (idle_timeout) for the next request's first byte, then its
// header (header_timeout from there). Answers are written within header_timeout.
class MetricsServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl* server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {}

  void Begin() {
    stream_.expires_after(Chrono(server_->options.header_timeout));
    ReadHeader();
  }

  // Between keep-alive requests: may be closed to make room for a new connection.
  bool idle() const { return idle_; }

  void End() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    server_->Close(shared_from_this());
  }

 private:
  void WaitForNextRequest() {
    idle_ = true;
    stream_.expires_after(Chrono(server_->options.idle_timeout));
    stream_.async_read_some(buffer_.prepare(kFirstRead), [self = shared_from_this()](error_code ec, size_t n) {
      self->idle_ = false;
      if (ec) return self->End();
      self->buffer_.commit(n);
      self->stream_.expires_after(Chrono(self->server_->options.header_timeout));
      self->ReadHeader();
    });
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(0);
    bhttp::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->End();  // timed out, too large, malformed or closed: just close
      self->Answer();
    });
  }

  void Answer() {
    const bhttp::request<bhttp::empty_body>& req = parser_->get();
    const absl::string_view target(req.target().data(), req.target().size());
    const bool is_metrics = target == "/metrics" || absl::StartsWith(target, "/metrics?");
    // A request with a body is not ours to read: answer and close rather than parse it.
    const bool has_body = parser_->chunked() || parser_->content_length().value_or(0) > 0;
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->version(req.version());
    res->keep_alive(req.keep_alive() && !has_body);
    if (!is_metrics) {
      res->result(bhttp::status::not_found);
      res->set(bhttp::field::content_type, "text/plain; charset=utf-8");
      res->body() = "not found: try GET /metrics\n";
    } else if (req.method() != bhttp::verb::get) {
      res->result(bhttp::status::method_not_allowed);
      res->set(bhttp::field::allow, "GET");
      res->set(bhttp::field::content_type, "text/plain; charset=utf-8");
      res->body() = "method not allowed: GET /metrics only\n";
    } else {
      res->result(bhttp::status::ok);
      res->set(bhttp::field::content_type, kContentType);
      res->body() = server_->body();
    }
    res->prepare_payload();
    stream_.expires_after(Chrono(server_->options.header_timeout));
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res](error_code ec, size_t) {
      if (ec || !res->keep_alive()) return self->End();
      self->WaitForNextRequest();
    });
  }

  Impl* server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::empty_body>> parser_;
  bool idle_ = false;
};

bool MetricsServer::Impl::MakeRoom() {
  if (sessions.size() < options.max_connections) return true;
  for (const std::shared_ptr<Session>& s : sessions) {
    if (s->idle()) {
      s->End();  // a keep-alive connection between requests gives way (it may reconnect)
      return true;
    }
  }
  return false;
}

void MetricsServer::Impl::Accept() {
  acceptor.async_accept([this](error_code ec, tcp::socket socket) {
    if (stopping) return;
    if (!ec) {
      if (!MakeRoom()) {
        error_code ignored;
        socket.close(ignored);  // every slot is mid-request (at most header_timeout): closed unread
      } else {
        auto s = std::make_shared<Session>(this, std::move(socket));
        sessions.insert(s);
        s->Begin();
      }
    }
    Accept();  // also after a failed accept (EMFILE, an aborted connection)
  });
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const MetricsServerOptions& options, BodyFn body) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->body = std::move(body);
  const std::string host = options.bind_address.empty() ? "127.0.0.1" : options.bind_address;
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("not an IP address: \"", host, "\""));
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(options.port));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", host, ":", options.port, ": ", ec.message()));
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  impl->thread = std::thread([i = impl.get()] { i->ioc.run(); });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() { Stop(); }

int MetricsServer::port() const { return impl_->port; }

void MetricsServer::Stop() {
  if (impl_->joined) return;
  asio::post(impl_->ioc, [i = impl_.get()] {
    i->stopping = true;
    error_code ignored;
    i->acceptor.close(ignored);
    // End() removes the session from the set: iterate over a copy.
    for (const std::shared_ptr<Impl::Session>& s : std::set<std::shared_ptr<Impl::Session>>(i->sessions)) s->End();
  });
  impl_->thread.join();  // run() returns once every aborted operation has finished
  impl_->joined = true;
}

}  // namespace platform::http
