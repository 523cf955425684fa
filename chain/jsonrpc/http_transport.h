// HTTP/1.1 POST to one JSON-RPC endpoint over plain TCP or TLS (Boost.Beast, OpenSSL 3 through
// Asio SSL), with a small pool of keep-alive connections. Thread-safe: each call takes a pooled
// connection (or opens one), so concurrent calls run on separate connections.
//
// TLS: the peer certificate is verified against the system trust store (plus an optional
// extra PEM bundle), the host name is checked (RFC 6125, IP SANs for IP literals), SNI is sent
// for names, TLS 1.2 is the minimum. There is no switch to turn verification off.
#ifndef ONCHAIN_KMS_CHAIN_JSONRPC_HTTP_TRANSPORT_H_
#define ONCHAIN_KMS_CHAIN_JSONRPC_HTTP_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace chain::jsonrpc {

struct TransportOptions {
  // DNS + TCP connect + TLS handshake of a new connection.
  absl::Duration connect_timeout = absl::Seconds(5);
  // Writing one request and reading its whole response.
  absl::Duration request_timeout = absl::Seconds(30);
  // Pooled connections idle longer than this are closed instead of reused (servers drop idle
  // keep-alive connections after 5-120 s; reusing a dead one costs a retry).
  absl::Duration idle_timeout = absl::Seconds(20);
  size_t max_idle_connections = 8;
  size_t max_response_bytes = size_t{32} << 20;
  // PEM file of CA certificates trusted in addition to the system store (private PKI, tests).
  std::string extra_ca_file;
  // Extra request headers, e.g. {"Authorization", "Bearer ..."}. Never logged.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string user_agent = "onchain-kms-jsonrpc/1";
};

// A parsed endpoint URL: http[s]://[user:pass@]host[:port][/path][?query].
struct EndpointUrl {
  bool tls = false;
  std::string host;  // without brackets for IPv6
  uint16_t port = 0;
  std::string target;  // path + query, at least "/"
  std::string basic_auth;  // "user:pass" when the URL carries userinfo
  // scheme://host:port: safe to log (paths and userinfo often hold API keys).
  std::string Redacted() const;
};
absl::StatusOr<EndpointUrl> ParseEndpointUrl(absl::string_view url);

struct HttpResponse {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

class HttpTransport {
 public:
  // INVALID_ARGUMENT for a bad URL or an unreadable extra_ca_file.
  static absl::StatusOr<std::unique_ptr<HttpTransport>> Create(absl::string_view url,
                                                               const TransportOptions& options);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // POSTs `body` (application/json). Any HTTP status is returned as a response; transport
  // failures are UNAVAILABLE with a TransportDetail payload (errors.h). `deadline` bounds the
  // whole call in addition to the per-phase timeouts. `idempotent`: a request that failed on a
  // reused keep-alive connection before any response byte arrived is retried once on a fresh
  // connection (the server most likely closed the idle connection).
  absl::StatusOr<HttpResponse> Post(absl::string_view body, absl::Time deadline, bool idempotent);

  const std::string& redacted_url() const;

  struct Stats {
    uint64_t requests = 0;
    uint64_t connections_opened = 0;
    uint64_t reused = 0;
  };
  Stats stats() const;

  class Impl;

 private:
  explicit HttpTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace chain::jsonrpc

#endif  // ONCHAIN_KMS_CHAIN_JSONRPC_HTTP_TRANSPORT_H_
