// HTTP/1.1 to one origin (the Phala Cloud API) over TLS or, for loopback tests, plain TCP:
// Boost.Beast, with OpenSSL 3 reached only through Asio's SSL layer in https_transport.cc (the
// one file of cloudapi/ that sees OpenSSL headers).
//
// TLS: the peer certificate chain is verified against the system CA store (plus an optional
// extra PEM bundle), the host name or IP address is checked against the certificate, SNI is sent
// for names, TLS 1.2 is the minimum. There is no switch to turn verification off.
//
// Thread-safe: every Send takes an idle pooled keep-alive connection (or opens one) and gives it
// back afterwards, so concurrent calls run on separate connections. A pooled connection that has
// been idle too long, or that the server has closed meanwhile, is discarded before use, so a
// request is never written to a connection known to be dead.
//
// No retries here: the caller (CloudClient) decides, using `request_written`.
#ifndef ONCHAIN_KMS_CLOUDAPI_HTTPS_TRANSPORT_H_
#define ONCHAIN_KMS_CLOUDAPI_HTTPS_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cloudapi {

// http[s]://host[:port][/path-prefix]. No user info, query or fragment (keys do not belong in
// URLs); a trailing '/' of the prefix is dropped.
struct BaseUrl {
  bool tls = true;
  std::string host;  // IPv6 without brackets
  uint16_t port = 443;
  std::string path_prefix;  // "" or "/api/v1"

  // 127.0.0.0/8, ::1 or "localhost".
  bool IsLoopback() const;
  // scheme://host:port, for messages.
  std::string Origin() const;
};
// InvalidArgument naming what is wrong (never echoing the URL, which may be misplaced secret).
absl::StatusOr<BaseUrl> ParseBaseUrl(absl::string_view url);

struct TransportOptions {
  // DNS resolution + TCP connect + TLS handshake of a new connection.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Writing one request and reading its whole response.
  absl::Duration request_timeout = absl::Seconds(30);
  // A pooled connection idle for longer is closed rather than reused.
  absl::Duration idle_timeout = absl::Seconds(30);
  size_t max_idle_connections = 4;
  size_t max_response_bytes = size_t{16} << 20;
  // PEM file of CA certificates trusted in addition to the system store (tests, private PKI).
  std::string extra_ca_file;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", "PATCH"
  std::string target;  // origin-form, already percent-encoded: "/api/v1/kms?is_onchain=true"
  std::vector<std::pair<std::string, std::string>> headers;  // Host and Content-Length are added
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;

  // The first header of that (lower-case) name, or nullptr.
  const std::string* Header(absl::string_view lower_name) const;
};

class HttpsTransport {
 public:
  // InvalidArgument for an unreadable extra_ca_file; Internal if OpenSSL cannot be set up.
  static absl::StatusOr<std::unique_ptr<HttpsTransport>> Create(BaseUrl url,
                                                                TransportOptions options);
  ~HttpsTransport();
  HttpsTransport(const HttpsTransport&) = delete;
  HttpsTransport& operator=(const HttpsTransport&) = delete;

  // What the caller needs to know about a failed exchange to decide on a retry.
  struct SendInfo {
    // The whole request was handed to the connection: from then on the server may have
    // received and acted on it.
    bool request_written = false;
    // Repeating cannot help (the server's certificate was rejected).
    bool permanent = false;
  };

  // One exchange. Any HTTP status is a response. Failures: UNAVAILABLE (resolve, connect, TLS
  // handshake including certificate rejection, connection lost, malformed or oversized
  // response) or DEADLINE_EXCEEDED (a timeout, or `deadline`), naming the origin and the phase,
  // never the headers.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, absl::Time deadline,
                                    SendInfo* info);

  struct Stats {
    uint64_t requests = 0;
    uint64_t connections_opened = 0;
    uint64_t connections_reused = 0;
    uint64_t stale_connections_dropped = 0;
  };
  Stats stats() const;
  const BaseUrl& url() const;

  struct Impl;

 private:
  explicit HttpsTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_HTTPS_TRANSPORT_H_
