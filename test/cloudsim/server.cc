#include "test/cloudsim/server.h"

#include <chrono>
#include <exception>
#include <iostream>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cloudsim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  ServerOptions options;
  Handler handler;
  FaultHook faults;
  Recorder recorder;
  std::optional<ssl::context> ssl_ctx;  // outlives the io_context (declared before it)
  asio::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::atomic<int> in_flight{0};
  std::atomic<bool> stopping{false};

  void DoAccept();
};

namespace {

const char* ReasonFor(int status) {
  switch (status) {
    case 465:
      return "Precondition Required";  // Phala Cloud's two-phase update signal
    case 466:
      return "Compose Hash Expired";
    case 467:
      return "Transaction Verification Failed";
    case 468:
      return "Compose Hash Not Allowed";
    default:
      return nullptr;
  }
}

HttpResponse InternalError() {
  HttpResponse r;
  r.status = 500;
  r.body = R"({"detail":"Internal Server Error"})";
  return r;
}

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(HttpServer::Impl* impl, Stream stream)
      : impl_(impl), stream_(std::move(stream)), timer_(stream_.get_executor()) {}

  void Start() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (!ec) self->DoRead();
      });
    } else {
      DoRead();
    }
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(impl_->options.body_limit);
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::milliseconds(absl::ToInt64Milliseconds(impl_->options.idle_timeout)));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      if (ec == http::error::body_limit) {
        HttpResponse r;
        r.status = 413;
        r.body = R"({"detail":"Request Entity Too Large"})";
        keep_alive_ = false;
        impl_->in_flight++;
        Write(r);
        return;
      }
      Close();
      return;
    }
    http::request<http::string_body> msg = parser_->release();
    started_ = absl::Now();
    impl_->in_flight++;
    req_ = HttpRequest{};
    req_.method = std::string(msg.method_string());
    req_.target = std::string(msg.target());
    std::string target = req_.target;
    size_t q = target.find('?');
    req_.query = q == std::string::npos ? "" : target.substr(q + 1);
    boost::system::result<boost::urls::url_view> u = boost::urls::parse_origin_form(target);
    req_.path = u ? std::string(u->path()) : target.substr(0, q);
    for (const auto& field : msg) {
      req_.headers[absl::AsciiStrToLower(std::string(field.name_string()))] = std::string(field.value());
    }
    req_.body = std::move(msg.body());
    keep_alive_ = msg.keep_alive();
    beast::error_code rec;
    tcp::endpoint remote = beast::get_lowest_layer(stream_).socket().remote_endpoint(rec);
    req_.remote_is_loopback = !rec && remote.address().is_loopback();

    decision_ = impl_->faults ? impl_->faults(req_) : FaultDecision{};
    if (decision_.latency_ms > 0) {
      timer_.expires_after(std::chrono::milliseconds(decision_.latency_ms));
      timer_.async_wait([self = this->shared_from_this()](beast::error_code) { self->Process(); });
      return;
    }
    Process();
  }

  void Process() {
    if (decision_.action && decision_.action->kind == FaultKind::kDrop) {
      Record(nullptr);  // before the client can notice, so the log is in arrival order
      Close();
      impl_->in_flight--;
      return;
    }
    HttpResponse r;
    if (decision_.action) {
      const FaultRule& f = *decision_.action;
      r.status = f.status;
      if (f.kind == FaultKind::kRateLimit) {
        r.headers.emplace_back("Retry-After", std::to_string(f.retry_after_s));
        r.body = f.body.empty() ? R"({"detail":"Too Many Requests"})" : f.body;
      } else {
        r.body = f.body.empty() ? R"({"detail":"Simulated fault"})" : f.body;
      }
    } else {
      try {
        r = impl_->handler(req_);
      } catch (const std::exception& e) {
        std::cerr << "cloudsim: handler threw: " << e.what() << "\n";
        r = InternalError();
      } catch (...) {
        r = InternalError();
      }
    }
    Write(r);
  }

  void Write(const HttpResponse& r) {
    response_ = r;
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    if (const char* reason = ReasonFor(r.status)) res->reason(reason);
    res->set(http::field::server, "cloudsim");
    res->set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->body() = r.body;
    res->keep_alive(keep_alive_ && !impl_->stopping.load());
    res->prepare_payload();
    res_ = res;
    // Logged before the response leaves: a client that reads /_sim/requests right after its
    // response always finds its request there.
    Record(&response_);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *res_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(beast::error_code ec) {
    bool keep = res_->keep_alive();
    res_.reset();
    impl_->in_flight--;
    if (ec || !keep) {
      Close();
      return;
    }
    DoRead();
  }

  void Record(const HttpResponse* r) {
    if (!impl_->recorder || req_.method.empty()) return;
    try {
      impl_->recorder(req_, r, decision_.fired, absl::ToInt64Milliseconds(absl::Now() - started_));
    } catch (const std::exception& e) {
      std::cerr << "cloudsim: recorder threw: " << e.what() << "\n";
    }
  }

  void Close() {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

  HttpServer::Impl* impl_;
  Stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest req_;
  HttpResponse response_;
  FaultDecision decision_;
  bool keep_alive_ = true;
  absl::Time started_;
  std::shared_ptr<http::response<http::string_body>> res_;
};

}  // namespace

void HttpServer::Impl::DoAccept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor || !acceptor->is_open()) return;
      DoAccept();
      return;
    }
    if (stopping.load()) return;
    beast::error_code nd;
    socket.set_option(tcp::no_delay(true), nd);
    if (ssl_ctx) {
      std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
          this, beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *ssl_ctx))
          ->Start();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(this, beast::tcp_stream(std::move(socket)))->Start();
    }
    DoAccept();
  });
}

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const ServerOptions& options, Handler handler,
                                                              FaultHook faults, Recorder recorder) {
  auto impl = std::make_shared<Impl>();
  impl->options = options;
  impl->handler = std::move(handler);
  impl->faults = std::move(faults);
  impl->recorder = std::move(recorder);
  try {
    if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
      if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
        return absl::InvalidArgumentError("TLS needs both a certificate and a key file");
      }
      impl->ssl_ctx.emplace(ssl::context::tls_server);
      impl->ssl_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                                 ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      impl->ssl_ctx->use_certificate_chain_file(options.tls_cert_file);
      impl->ssl_ctx->use_private_key_file(options.tls_key_file, ssl::context::pem);
    }
    boost::system::error_code ec;
    asio::ip::address addr = asio::ip::make_address(options.listen_address, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("bad listen address: ", options.listen_address));
    tcp::endpoint ep(addr, options.port);
    impl->acceptor.emplace(impl->ioc);
    impl->acceptor->open(ep.protocol());
    impl->acceptor->set_option(asio::socket_base::reuse_address(true));
    impl->acceptor->bind(ep);
    impl->acceptor->listen(asio::socket_base::max_listen_connections);
  } catch (const boost::system::system_error& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address, ":", options.port, ": ", e.what()));
  }
  std::unique_ptr<HttpServer> server(new HttpServer(impl));
  server->port_ = impl->acceptor->local_endpoint().port();
  server->tls_ = impl->ssl_ctx.has_value();
  impl->DoAccept();
  int n = std::max(1, options.threads);
  for (int i = 0; i < n; ++i) {
    server->threads_.emplace_back([impl] {
      for (;;) {
        try {
          impl->ioc.run();
          return;
        } catch (const std::exception& e) {
          std::cerr << "cloudsim: io thread: " << e.what() << "\n";
        }
      }
    });
  }
  return server;
}

void HttpServer::Stop(absl::Duration grace) {
  if (stopped_.exchange(true)) return;
  impl_->stopping = true;
  // A raw pointer: a handler still queued when the io_context stops must not own the Impl (that
  // would be a cycle Impl -> io_context -> handler -> Impl). The threads are joined below.
  asio::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ec;
    if (impl->acceptor) impl->acceptor->close(ec);
  });
  absl::Time deadline = absl::Now() + grace;
  while (impl_->in_flight.load() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  impl_->ioc.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  impl_->acceptor.reset();
}

HttpServer::~HttpServer() { Stop(absl::ZeroDuration()); }

}  // namespace cloudsim
