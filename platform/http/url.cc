#include "platform/http/url.h"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace platform::http {
namespace {

std::string Bracketed(const std::string& host) {
  return host.find(':') == std::string::npos ? host : absl::StrCat("[", host, "]");
}

absl::StatusOr<std::string> HostOf(const boost::urls::url_view& u) {
  std::string host;
  switch (u.host_type()) {
    case boost::urls::host_type::ipv6:
      host = std::string(u.host_address());
      break;
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::name:
      host = absl::AsciiStrToLower(std::string(u.host_address()));
      break;
    default:
      return absl::InvalidArgumentError("unsupported host");
  }
  if (host.empty()) return absl::InvalidArgumentError("missing host");
  return host;
}

}  // namespace

std::string Url::Origin() const { return absl::StrCat(tls ? "https" : "http", "://", Bracketed(host), ":", port); }

std::string Url::HostHeader() const {
  const bool default_port = port == (tls ? 443 : 80);
  return default_port ? Bracketed(host) : absl::StrCat(Bracketed(host), ":", port);
}

std::string Url::Target() const {
  std::string target = path.empty() ? "/" : path;
  if (target[0] != '/') target.insert(0, "/");
  if (has_query) absl::StrAppend(&target, "?", query);
  return target;
}

bool Url::IsLoopback() const {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const boost::asio::ip::address a = boost::asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

bool Url::IsIpLiteral() const {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

absl::StatusOr<Url> ParseUrl(absl::string_view text) {
  boost::system::result<boost::urls::url_view> parsed =
      boost::urls::parse_uri(boost::core::string_view(text.data(), text.size()));
  if (!parsed) return absl::InvalidArgumentError("not an absolute http(s) url");
  const boost::urls::url_view& u = *parsed;
  Url out;
  const std::string scheme = absl::AsciiStrToLower(std::string(u.scheme()));
  if (scheme != "https" && scheme != "http") {
    return absl::InvalidArgumentError("scheme must be http or https");
  }
  out.tls = scheme == "https";
  out.port = out.tls ? 443 : 80;
  absl::StatusOr<std::string> host = HostOf(u);
  if (!host.ok()) return host.status();
  out.host = *std::move(host);
  if (u.has_port()) {
    uint32_t port = 0;
    if (!absl::SimpleAtoi(std::string(u.port()), &port) || port == 0 || port > 65535) {
      return absl::InvalidArgumentError("bad port");
    }
    out.port = static_cast<uint16_t>(port);
  }
  out.path = std::string(u.encoded_path());
  out.has_query = u.has_query();
  out.query = std::string(u.encoded_query());
  out.has_fragment = u.has_fragment();
  out.has_userinfo = u.has_userinfo();
  if (out.has_userinfo) out.userinfo = std::string(u.userinfo());
  return out;
}

}  // namespace platform::http
