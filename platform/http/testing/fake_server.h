// Test-only network doubles for HTTP clients (//platform/http, chain/jsonrpc, chain/onchain):
// - FakeHttpServer: an HTTP or HTTPS server on 127.0.0.1 whose answers a test scripts (status,
//   headers, body, delay, dropped connection), with keep-alive, counters and the last request.
// - TcpProxy: forwards a local port to an upstream (e.g. anvil) and can refuse, hang or stop
//   listening, to play "endpoint down, then back".
#ifndef ONCHAIN_KMS_PLATFORM_HTTP_TESTING_FAKE_SERVER_H_
#define ONCHAIN_KMS_PLATFORM_HTTP_TESTING_FAKE_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace platform::http::testing {

struct FakeReply {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // more response headers
  absl::Duration delay = absl::ZeroDuration();               // before answering
  bool close_after = false;                                  // "Connection: close" and close
  bool drop = false;                                         // close the connection without answering
  // Written verbatim instead of the response the fields above describe (a body read to the end
  // of the stream, chunked encoding, a malformed answer); the connection is closed after it when
  // close_after is set.
  std::string raw;
  // > 1: the response is written in that many pieces (the first one byte, the last the rest),
  // with piece_delay before each piece after the first: an answer arriving in bits.
  int pieces = 1;
  absl::Duration piece_delay = absl::ZeroDuration();
};

struct FakeServerOptions {
  bool tls = false;
  std::string cert_file;  // PEM, for tls
  std::string key_file;
  // > 0: after this many answers on one connection, the next request on it is read and the
  // connection closed without an answer, as when a server drops an idle keep-alive connection.
  int requests_per_connection = 0;
  // > 0: a keep-alive connection idle (no request started) this long is closed, as servers do.
  absl::Duration close_idle_after = absl::ZeroDuration();
};

// What the server read, for tests that check what a client sent.
struct ReceivedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // as sent
  std::string body;
};

class FakeHttpServer {
 public:
  using Handler = std::function<FakeReply(const std::string& request_body)>;
  static absl::StatusOr<std::unique_ptr<FakeHttpServer>> Start(Handler handler, const FakeServerOptions& options = {});
  ~FakeHttpServer();

  uint16_t port() const;
  std::string url(const std::string& host = "127.0.0.1") const;
  uint64_t connections() const;  // accepted so far
  uint64_t requests() const;     // requests read so far
  uint64_t idle_closed() const;  // connections closed by close_idle_after
  ReceivedRequest last_request() const;
  void set_handler(Handler handler);

  class Impl;

 private:
  explicit FakeHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class TcpProxy {
 public:
  enum class Mode {
    kForward,  // pass bytes both ways
    kHang,     // accept, read, never answer (a frozen node)
    kReset,    // accept and close at once
  };
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(uint16_t upstream_port);
  ~TcpProxy();

  uint16_t port() const;
  std::string url() const;
  void set_mode(Mode mode);
  // Close the listening socket and every open connection (connect then fails with
  // "connection refused"); Listen() reopens the same port.
  void StopListening();
  absl::Status Listen();
  uint64_t connections() const;

  class Impl;

 private:
  explicit TcpProxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace platform::http::testing

#endif  // ONCHAIN_KMS_PLATFORM_HTTP_TESTING_FAKE_SERVER_H_
