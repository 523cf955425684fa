// A small HTTP/1.1 server for one Prometheus endpoint, GET /metrics, on Boost.Beast: both
// services expose their metrics with it on a port of their own, apart from gRPC.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<MetricsServer> server,
//                    MetricsServer::Start({.port = 9102}, [&] { return metrics.Render(); }));
//
// GET /metrics (a query string is ignored) answers 200 with the body the callback returns, as
// "text/plain; version=0.0.4; charset=utf-8" (the Prometheus text format); another method on
// /metrics is 405, any other path 404. Keep-alive as the client asks.
//
// A slow or hostile client cannot hold it: a request header must arrive whole within
// header_timeout of the connect (the first request) or of its first byte (later ones on a
// keep-alive connection), so a client trickling a byte at a time is dropped; a keep-alive
// connection idle for idle_timeout is closed; a header over max_header_bytes or a request body
// ends the connection; answers must be taken within header_timeout. At max_connections a new
// connection closes an idle keep-alive one, or is closed at once if every connection is in the
// middle of a request (which lasts at most header_timeout). One I/O thread serves them all.
#ifndef ONCHAIN_KMS_PLATFORM_HTTP_METRICS_SERVER_H_
#define ONCHAIN_KMS_PLATFORM_HTTP_METRICS_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace platform::http {

struct MetricsServerOptions {
  // An IPv4 or IPv6 literal; empty means "127.0.0.1".
  std::string bind_address;
  // 0 picks a free port (port() tells which).
  int port = 0;
  absl::Duration header_timeout = absl::Seconds(5);
  absl::Duration idle_timeout = absl::Seconds(30);
  size_t max_header_bytes = 8192;
  size_t max_connections = 16;
};

class MetricsServer {
 public:
  // The exposition text; called on the server's I/O thread for every scrape.
  using BodyFn = std::function<std::string()>;

  // InvalidArgument if bind_address is not an IP address; Unavailable if it cannot listen.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const MetricsServerOptions& options, BodyFn body);
  ~MetricsServer();  // Stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const;
  // Closes the listener and every connection, and joins the I/O thread. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace platform::http

#endif  // ONCHAIN_KMS_PLATFORM_HTTP_METRICS_SERVER_H_
