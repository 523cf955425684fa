// An http(s) URL split into what a client needs: scheme, host, port, target, user info.
//
//   ASSIGN_OR_RETURN(platform::http::Url url, platform::http::ParseUrl("https://rpc.example/v2"));
//   url.Origin();  // "https://rpc.example:443": safe to log (no path, query or user info)
#ifndef ONCHAIN_KMS_PLATFORM_HTTP_URL_H_
#define ONCHAIN_KMS_PLATFORM_HTTP_URL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace platform::http {

struct Url {
  bool tls = true;
  std::string host;  // names in lower case; IPv6 without brackets
  uint16_t port = 443;
  std::string path;   // percent-encoded as given, "" when absent
  std::string query;  // percent-encoded, without '?'; "" when absent
  bool has_query = false;
  bool has_fragment = false;
  bool has_userinfo = false;
  std::string userinfo;  // decoded "user:password"

  // scheme://host:port, for messages: paths, queries and user info often hold API keys.
  std::string Origin() const;
  // The value of the Host header: the port only when it is not the scheme's default.
  std::string HostHeader() const;
  // Origin-form request target: path (at least "/") and query.
  std::string Target() const;
  // 127.0.0.0/8, ::1 or "localhost".
  bool IsLoopback() const;
  // An IPv4 or IPv6 literal (no SNI is sent for these; the certificate needs an IP SAN).
  bool IsIpLiteral() const;
};

// InvalidArgument naming what is wrong, never echoing the URL (it may carry a secret).
absl::StatusOr<Url> ParseUrl(absl::string_view text);

}  // namespace platform::http

#endif  // ONCHAIN_KMS_PLATFORM_HTTP_URL_H_
