// TLS client settings of //platform/http (private to the package): the one place where the
// HTTP client meets OpenSSL, through Boost.Asio's SSL layer plus the few OpenSSL calls Asio does
// not expose (minimum version, SNI, host-name and IP checks).
//
// The peer chain is verified against the system CA store plus an optional extra PEM bundle, the
// host name (no partial wildcards) or IP address is checked against the certificate, SNI is sent
// for names, TLS 1.2 is the minimum. There is no switch to turn verification off.
#ifndef ONCHAIN_KMS_PLATFORM_HTTP_TLS_CONTEXT_H_
#define ONCHAIN_KMS_PLATFORM_HTTP_TLS_CONTEXT_H_

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/http/url.h"

namespace platform::http {

// InvalidArgument for an unreadable extra_ca_file; Internal when OpenSSL cannot be set up.
absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeTlsClientContext(const std::string& extra_ca_file);

// Sets SNI and the expected peer name or address on one connection before its handshake.
absl::Status ExpectPeer(SSL* ssl, const Url& url);

// The reason OpenSSL rejected the peer's certificate ("hostname mismatch"), or "" when the
// certificate was accepted.
std::string CertificateRejection(SSL* ssl);

}  // namespace platform::http

#endif  // ONCHAIN_KMS_PLATFORM_HTTP_TLS_CONTEXT_H_
