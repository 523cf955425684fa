#include "platform/http/tls_context.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"

namespace platform::http {

using boost::asio::ssl::context;

absl::StatusOr<std::unique_ptr<context>> MakeTlsClientContext(const std::string& extra_ca_file) {
  auto ctx = std::make_unique<context>(context::tls_client);
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    return absl::InternalError("tls: cannot set the minimum protocol version");
  }
  boost::system::error_code ec;
  ctx->set_options(context::default_workarounds | context::no_sslv2 | context::no_sslv3 | context::no_compression, ec);
  if (ec) return absl::InternalError(absl::StrCat("tls: ", ec.message()));
  ctx->set_default_verify_paths(ec);
  if (ec) return absl::InternalError("tls: cannot load the system CA store");
  if (!extra_ca_file.empty()) {
    ctx->load_verify_file(extra_ca_file, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("tls: cannot load CA file ", extra_ca_file));
  }
  ctx->set_verify_mode(boost::asio::ssl::verify_peer, ec);
  if (ec) return absl::InternalError(absl::StrCat("tls: ", ec.message()));
  return ctx;
}

absl::Status ExpectPeer(SSL* ssl, const Url& url) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (url.IsIpLiteral()) {
    // RFC 6066: no SNI for IP literals; the certificate must carry the address in a SAN.
    if (X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str()) != 1) {
      return absl::InternalError(absl::StrCat(url.Origin(), ": cannot set the expected ip address"));
    }
  } else {
    if (SSL_set_tlsext_host_name(ssl, url.host.c_str()) != 1) {
      return absl::InternalError(absl::StrCat(url.Origin(), ": cannot set SNI"));
    }
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0) != 1) {
      return absl::InternalError(absl::StrCat(url.Origin(), ": cannot set the expected host name"));
    }
  }
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  return absl::OkStatus();
}

std::string CertificateRejection(SSL* ssl) {
  const long verify = SSL_get_verify_result(ssl);
  return verify == X509_V_OK ? "" : X509_verify_cert_error_string(verify);
}

}  // namespace platform::http
