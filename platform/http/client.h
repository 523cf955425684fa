// The one HTTP(S) client of the project: HTTP/1.1 to one origin over TLS or plain TCP, on
// Boost.Beast, with a bounded pool of keep-alive connections. Callers (cloudapi/, chain/jsonrpc/)
// keep their own policy on top: headers and their redaction, retries, failover.
//
//   ASSIGN_OR_RETURN(Url url, ParseUrl("https://api.example/v1"));
//   ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Client::Create(url, {}));
//   ASSIGN_OR_RETURN(Response r, client->Send({.method = "GET", .target = "/v1/me"}, deadline));
//
// TLS: verified against the system CA store plus an optional extra PEM file, host name or IP
// address checked, SNI for names, TLS 1.2 minimum (tls_context.h). No switch turns it off.
//
// Thread-safe: each Send takes an idle pooled connection (or opens one) and gives it back, so
// concurrent calls run on separate connections. A pooled connection idle too long, or closed by
// the server meanwhile, is discarded before use.
//
// Errors: any HTTP status is a response. Failures are UNAVAILABLE (resolve, connect, TLS,
// timeout, connection lost, oversized response) with the message "<scheme://host:port>:
// <phase> failed: <why>" or "<scheme://host:port>: <phase>: timed out" (phases: resolve,
// connect, tls handshake, write, read): never a path, query, header or body, which may hold
// secrets. SendInfo tells
// how far the exchange got (and whether it timed out) for the caller's retry decision.
#ifndef ONCHAIN_KMS_PLATFORM_HTTP_CLIENT_H_
#define ONCHAIN_KMS_PLATFORM_HTTP_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "platform/http/message.h"
#include "platform/http/url.h"

namespace platform::http {

struct ClientOptions {
  // DNS resolution + TCP connect + TLS handshake of a new connection.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Writing one request and reading its whole response.
  absl::Duration request_timeout = absl::Seconds(30);
  // A pooled connection idle for longer is closed rather than reused (servers drop idle
  // keep-alive connections after 5-120 s).
  absl::Duration idle_timeout = absl::Seconds(30);
  // As many as calls run at once (the orchestrator runs up to max_concurrent_operations flows,
  // each with one call at a time): a connection the pool cannot keep is closed after its call,
  // and the next call pays for TCP (and TLS) setup again.
  size_t max_idle_connections = 64;
  size_t max_response_bytes = size_t{16} << 20;
  // PEM file of CA certificates trusted in addition to the system store (tests, private PKI).
  std::string extra_ca_file;
};

class Client {
 public:
  // `origin`'s scheme, host and port are used; its path, query and user info are the caller's.
  // InvalidArgument for an unreadable extra_ca_file; Internal if TLS cannot be set up.
  static absl::StatusOr<std::unique_ptr<Client>> Create(Url origin, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One exchange, bounded by the options' timeouts and by `deadline`. `info` (optional) is
  // filled in on success and failure.
  absl::StatusOr<Response> Send(const Request& request, absl::Time deadline = absl::InfiniteFuture(),
                                SendInfo* info = nullptr);

  struct Stats {
    uint64_t requests = 0;
    uint64_t connections_opened = 0;
    uint64_t connections_reused = 0;
    uint64_t stale_connections_dropped = 0;
  };
  Stats stats() const;
  const Url& url() const;

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace platform::http

#endif  // ONCHAIN_KMS_PLATFORM_HTTP_CLIENT_H_
