#include "platform/http/testing/fake_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "platform/status_macros.h"

namespace platform::http::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::ssl::context;

// Open sockets that Stop() must unblock.
class FdSet {
 public:
  void Add(int fd) {
    absl::MutexLock l(&mu_);
    fds_.insert(fd);
  }
  void Remove(int fd) {
    absl::MutexLock l(&mu_);
    fds_.erase(fd);
  }
  void ShutdownAll() {
    absl::MutexLock l(&mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }

 private:
  absl::Mutex mu_;
  std::set<int> fds_ ABSL_GUARDED_BY(mu_);
};

ReceivedRequest Received(const http::request<http::string_body>& req) {
  ReceivedRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  for (const auto& field : req) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = req.body();
  return out;
}

}  // namespace

// ---------------------------------------------------------------- FakeHttpServer

class FakeHttpServer::Impl {
 public:
  Impl(Handler handler, const FakeServerOptions& options) : handler_(std::move(handler)), options_(options) {}

  absl::Status Start() {
    try {
      if (options_.tls) {
        ctx_.emplace(context::tls_server);
        ctx_->use_certificate_chain_file(options_.cert_file);
        ctx_->use_private_key_file(options_.key_file, context::pem);
      }
      acceptor_.emplace(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
      port_ = acceptor_->local_endpoint().port();
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("fake server: ", e.what()));
    }
    accept_thread_ = std::thread([this] { AcceptLoop(); });
    return absl::OkStatus();
  }

  ~Impl() {
    stop_.Notify();
    ::shutdown(acceptor_->native_handle(), SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    fds_.ShutdownAll();
    std::vector<std::thread> threads;
    {
      absl::MutexLock l(&mu_);
      threads.swap(threads_);
    }
    for (std::thread& t : threads) t.join();
    beast::error_code ignored;
    acceptor_->close(ignored);
  }

  uint16_t port() const { return port_; }
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> idle_closed{0};

  void set_handler(Handler h) {
    absl::MutexLock l(&mu_);
    handler_ = std::move(h);
  }
  ReceivedRequest last_request() {
    absl::MutexLock l(&mu_);
    return last_;
  }

 private:
  void AcceptLoop() {
    while (!stop_.HasBeenNotified()) {
      tcp::socket sock(ioc_);
      beast::error_code ec;
      acceptor_->accept(sock, ec);
      if (ec) {
        if (stop_.HasBeenNotified()) return;
        continue;
      }
      connections.fetch_add(1);
      absl::MutexLock l(&mu_);
      threads_.emplace_back([this, s = std::move(sock)]() mutable { Serve(std::move(s)); });
    }
  }

  // Waits for the next request on an idle keep-alive connection (options_.close_idle_after):
  // false when it stayed idle that long, and is to be closed.
  bool NextRequestComes(int fd, const beast::flat_buffer& buffer) {
    if (options_.close_idle_after <= absl::ZeroDuration() || buffer.size() > 0) return true;
    pollfd p{};
    p.fd = fd;
    p.events = POLLIN;
    if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(options_.close_idle_after))) != 0) return true;
    ::shutdown(fd, SHUT_RDWR);  // the FIN is out before the count says so
    idle_closed.fetch_add(1);
    return false;
  }

  // The reply's bytes, in reply.pieces pieces with reply.piece_delay before each after the first.
  template <typename Stream>
  bool WriteReply(Stream& stream, const FakeReply& reply, http::response<http::string_body>& res) {
    std::string bytes = reply.raw;
    if (bytes.empty()) {
      std::ostringstream out;
      out << res;
      bytes = out.str();
    }
    const size_t pieces = static_cast<size_t>(std::max(reply.pieces, 1));
    for (size_t i = 0, at = 0; i < pieces && at < bytes.size(); ++i) {
      if (i > 0 && reply.piece_delay > absl::ZeroDuration() &&
          stop_.WaitForNotificationWithTimeout(reply.piece_delay)) {
        return false;
      }
      const size_t n = i == 0 && pieces > 1 ? 1 : i + 1 == pieces ? bytes.size() - at : (bytes.size() - at) / 2;
      beast::error_code ec;
      asio::write(stream, asio::buffer(bytes.data() + at, n), ec);
      if (ec) return false;
      at += n;
    }
    return true;
  }

  template <typename Stream>
  void ServeStream(Stream& stream, int fd) {
    beast::flat_buffer buffer;
    int answered = 0;
    while (!stop_.HasBeenNotified()) {
      if (!NextRequestComes(fd, buffer)) return;
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 << 20);  // Beast's default for requests is 1 MiB
      beast::error_code ec;
      http::read(stream, buffer, parser, ec);
      if (ec) return;
      http::request<http::string_body> req = parser.release();
      if (options_.requests_per_connection > 0 && answered >= options_.requests_per_connection) return;
      ++answered;
      requests.fetch_add(1);
      Handler h;
      {
        absl::MutexLock l(&mu_);
        h = handler_;
        last_ = Received(req);
      }
      FakeReply reply = h(req.body());
      if (reply.delay > absl::ZeroDuration() && stop_.WaitForNotificationWithTimeout(reply.delay)) return;
      if (reply.drop) return;
      http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
      res.set(http::field::content_type, reply.content_type);
      for (const auto& [name, value] : reply.headers) res.set(name, value);
      res.keep_alive(!reply.close_after && req.keep_alive());
      res.body() = reply.body;
      res.prepare_payload();
      if (!WriteReply(stream, reply, res) || !res.keep_alive()) return;
    }
  }

  void Serve(tcp::socket sock) {
    const int fd = sock.native_handle();
    fds_.Add(fd);
    try {
      if (ctx_.has_value()) {
        asio::ssl::stream<tcp::socket> stream(std::move(sock), *ctx_);
        beast::error_code ec;
        stream.handshake(asio::ssl::stream_base::server, ec);
        if (!ec) ServeStream(stream, fd);
        fds_.Remove(fd);
        stream.lowest_layer().close(ec);
        return;
      }
      ServeStream(sock, fd);
    } catch (const std::exception&) {
    }
    fds_.Remove(fd);
    beast::error_code ec;
    sock.close(ec);
  }

  absl::Mutex mu_;
  Handler handler_ ABSL_GUARDED_BY(mu_);
  ReceivedRequest last_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  const FakeServerOptions options_;
  asio::io_context ioc_;
  std::optional<context> ctx_;
  std::optional<tcp::acceptor> acceptor_;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  absl::Notification stop_;
  FdSet fds_;
};

absl::StatusOr<std::unique_ptr<FakeHttpServer>> FakeHttpServer::Start(Handler handler,
                                                                      const FakeServerOptions& options) {
  auto impl = std::make_unique<Impl>(std::move(handler), options);
  RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<FakeHttpServer>(new FakeHttpServer(std::move(impl)));
}

FakeHttpServer::FakeHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FakeHttpServer::~FakeHttpServer() = default;
uint16_t FakeHttpServer::port() const { return impl_->port(); }
std::string FakeHttpServer::url(const std::string& host) const {
  return absl::StrCat("http://", host, ":", port(), "/");
}
uint64_t FakeHttpServer::connections() const { return impl_->connections.load(); }
uint64_t FakeHttpServer::requests() const { return impl_->requests.load(); }
uint64_t FakeHttpServer::idle_closed() const { return impl_->idle_closed.load(); }
ReceivedRequest FakeHttpServer::last_request() const { return impl_->last_request(); }
void FakeHttpServer::set_handler(Handler handler) { impl_->set_handler(std::move(handler)); }

// ---------------------------------------------------------------- TcpProxy

class TcpProxy::Impl {
 public:
  explicit Impl(uint16_t upstream) : upstream_(upstream) {}
  ~Impl() {
    StopListening();
    std::vector<std::thread> threads;
    {
      absl::MutexLock l(&mu_);
      threads.swap(threads_);
    }
    for (std::thread& t : threads) t.join();
  }

  absl::Status Listen() {
    absl::MutexLock l(&listen_mu_);
    if (listen_fd_ >= 0) return absl::OkStatus();
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return absl::InternalError("proxy: socket");
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 128) != 0) {
      ::close(fd);
      return absl::InternalError(absl::StrCat("proxy: bind/listen: errno ", errno));
    }
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen_fd_ = fd;
    accept_thread_ = std::thread([this, fd] { AcceptLoop(fd); });
    return absl::OkStatus();
  }

  void StopListening() {
    std::thread t;
    {
      absl::MutexLock l(&listen_mu_);
      if (listen_fd_ < 0) return;
      ::shutdown(listen_fd_, SHUT_RDWR);
      t = std::move(accept_thread_);
    }
    if (t.joinable()) t.join();
    {
      absl::MutexLock l(&listen_mu_);
      ::close(listen_fd_);
      listen_fd_ = -1;
    }
    fds_.ShutdownAll();
  }

  uint16_t port() const { return port_; }
  std::atomic<Mode> mode{Mode::kForward};
  std::atomic<uint64_t> connections{0};

 private:
  void AcceptLoop(int listen_fd) {
    while (true) {
      const int c = ::accept(listen_fd, nullptr, nullptr);
      if (c < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      connections.fetch_add(1);
      absl::MutexLock l(&mu_);
      threads_.emplace_back([this, c] { Handle(c); });
    }
  }

  static bool WriteAll(int fd, const char* p, size_t n) {
    while (n > 0) {
      const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  // Copies from -> to until EOF; in hang mode swallows the bytes instead.
  void Pump(int from, int to) {
    char buf[16384];
    while (true) {
      const ssize_t n = ::recv(from, buf, sizeof(buf), 0);
      if (n <= 0) break;
      if (mode.load() == Mode::kHang) continue;
      if (mode.load() == Mode::kReset) break;
      if (!WriteAll(to, buf, static_cast<size_t>(n))) break;
    }
    ::shutdown(from, SHUT_RDWR);
    ::shutdown(to, SHUT_RDWR);
  }

  void Handle(int client) {
    fds_.Add(client);
    const Mode m = mode.load();
    if (m == Mode::kReset) {
      fds_.Remove(client);
      ::close(client);
      return;
    }
    if (m == Mode::kHang) {
      char buf[4096];
      while (::recv(client, buf, sizeof(buf), 0) > 0) {
      }
      fds_.Remove(client);
      ::close(client);
      return;
    }
    const int up = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(upstream_);
    if (up < 0 || ::connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      if (up >= 0) ::close(up);
      fds_.Remove(client);
      ::close(client);
      return;
    }
    fds_.Add(up);
    std::thread back([this, up, client] { Pump(up, client); });
    Pump(client, up);
    back.join();
    fds_.Remove(up);
    fds_.Remove(client);
    ::close(up);
    ::close(client);
  }

  const uint16_t upstream_;
  uint16_t port_ = 0;
  absl::Mutex listen_mu_;
  int listen_fd_ ABSL_GUARDED_BY(listen_mu_) = -1;
  std::thread accept_thread_ ABSL_GUARDED_BY(listen_mu_);
  absl::Mutex mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  FdSet fds_;
};

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(uint16_t upstream_port) {
  auto impl = std::make_unique<Impl>(upstream_port);
  RETURN_IF_ERROR(impl->Listen());
  return std::unique_ptr<TcpProxy>(new TcpProxy(std::move(impl)));
}

TcpProxy::TcpProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TcpProxy::~TcpProxy() = default;
uint16_t TcpProxy::port() const { return impl_->port(); }
std::string TcpProxy::url() const { return absl::StrCat("http://127.0.0.1:", port()); }
void TcpProxy::set_mode(Mode mode) { impl_->mode.store(mode); }
void TcpProxy::StopListening() { impl_->StopListening(); }
absl::Status TcpProxy::Listen() { return impl_->Listen(); }
uint64_t TcpProxy::connections() const { return impl_->connections.load(); }

}  // namespace platform::http::testing
