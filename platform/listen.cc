#include "platform/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/security/server_credentials.h"
#include "platform/status_macros.h"

namespace platform {
namespace {

constexpr size_t kMaxUnixPath = sizeof(sockaddr_un{}.sun_path) - 1;  // 107 on Linux

absl::Status Errno(absl::string_view what, const std::string& path, int err) {
  return absl::FailedPreconditionError(absl::StrCat(what, " ", path, ": ", std::strerror(err)));
}

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view role) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(role, " ", path, ": cannot be read"));
  std::ostringstream out;
  out << in.rdbuf();
  if (out.str().empty()) return absl::InvalidArgumentError(absl::StrCat(role, " ", path, ": empty"));
  return out.str();
}

bool IsHostChar(char c) { return absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_'; }

}  // namespace

std::string ListenAddress::GrpcUri() const {
  if (kind == Kind::kUnix) return absl::StrCat("unix:", unix_path);
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

bool IsLoopbackHost(absl::string_view host) {
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  const std::string h(host);
  in_addr v4;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view address) {
  ListenAddress out;
  if (absl::ConsumePrefix(&address, "unix:")) {
    // gRPC's forms: unix:path, unix:/abs/path and unix:///abs/path.
    if (absl::StartsWith(address, "//")) {
      address.remove_prefix(2);
      if (!absl::StartsWith(address, "/")) {
        return absl::InvalidArgumentError("listen address: unix:// must be followed by an absolute path");
      }
    }
    if (address.empty()) return absl::InvalidArgumentError("listen address: empty unix socket path");
    if (address.size() > kMaxUnixPath) {
      return absl::InvalidArgumentError(
          absl::StrCat("listen address: unix socket path longer than ", kMaxUnixPath, " bytes: ", address));
    }
    if (absl::StrContains(address, '\0')) {
      return absl::InvalidArgumentError("listen address: NUL in unix socket path");
    }
    out.kind = ListenAddress::Kind::kUnix;
    out.unix_path = std::string(address);
    return out;
  }
  if (absl::StartsWith(address, "unix-abstract:") || absl::StrContains(address, "://") ||
      absl::StartsWith(address, "dns:") || absl::StartsWith(address, "ipv4:") || absl::StartsWith(address, "ipv6:")) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address: unsupported form \"", address, "\" (use unix:/path or host:port)"));
  }

  absl::string_view host, port;
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close == absl::string_view::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat("listen address: expected [ipv6]:port, got \"", address, "\""));
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
    in6_addr v6;
    if (inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("listen address: bad IPv6 address \"", host, "\""));
    }
  } else {
    const size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("listen address: expected unix:/path or host:port, got \"", address, "\""));
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (absl::StrContains(host, ':')) {
      return absl::InvalidArgumentError(
          absl::StrCat("listen address: put an IPv6 address in brackets, e.g. [::1]:7443, got \"", address, "\""));
    }
    if (host.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("listen address: missing host in \"", address, "\" (use 0.0.0.0:port for every interface)"));
    }
    for (char c : host) {
      if (!IsHostChar(c)) {
        return absl::InvalidArgumentError(absl::StrCat("listen address: bad host \"", host, "\""));
      }
    }
  }
  uint32_t port_number = 0;
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port, &port_number) || port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("listen address: bad port \"", port, "\""));
  }
  out.kind = ListenAddress::Kind::kTcp;
  out.host = std::string(host);
  out.port = static_cast<int>(port_number);
  out.loopback = IsLoopbackHost(host);
  return out;
}

absl::Status ValidateListenOptions(const ListenAddress& address, const ListenOptions& options) {
  if (address.kind == ListenAddress::Kind::kUnix) {
    if (options.tls.has_value()) {
      return absl::InvalidArgumentError("TLS applies to TCP listeners only, not to a unix socket");
    }
    if (options.unix_mode & ~0777) {
      return absl::InvalidArgumentError(
          absl::StrCat("unix socket mode ", options.unix_mode, " is not a permission mode"));
    }
    return absl::OkStatus();
  }
  if (options.tls.has_value()) {
    if (options.tls->cert_file.empty() || options.tls->key_file.empty()) {
      return absl::InvalidArgumentError("TLS needs both a certificate file and a key file");
    }
    return absl::OkStatus();
  }
  if (!address.loopback) {
    return absl::InvalidArgumentError(
        absl::StrCat("plaintext TCP on ", address.GrpcUri(),
                     " is refused: use TLS, a unix socket, or a loopback address with insecure_loopback"));
  }
  if (!options.insecure_loopback) {
    return absl::InvalidArgumentError(
        absl::StrCat("plaintext TCP on ", address.GrpcUri(),
                     " needs insecure_loopback to be set explicitly (or use TLS or a unix socket)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<mode_t> ParseFileMode(absl::string_view mode) {
  if (mode.empty() || mode.size() > 4) {
    return absl::InvalidArgumentError(absl::StrCat("file mode \"", mode, "\": expected octal like 0600"));
  }
  mode_t out = 0;
  for (char c : mode) {
    if (c < '0' || c > '7') {
      return absl::InvalidArgumentError(absl::StrCat("file mode \"", mode, "\": expected octal like 0600"));
    }
    out = out * 8 + static_cast<mode_t>(c - '0');
  }
  if (out > 0777) {
    return absl::InvalidArgumentError(absl::StrCat("file mode \"", mode, "\": only permission bits (<= 0777)"));
  }
  return out;
}

absl::Status RemoveStaleUnixSocket(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return Errno("cannot inspect", path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a socket; not removing it"));
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket() for", path, errno);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), std::min(path.size(), kMaxUnixPath));
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa));
  const int err = errno;
  ::close(fd);
  if (rc == 0) {
    return absl::FailedPreconditionError(absl::StrCat("a server is already listening on ", path));
  }
  if (err != ECONNREFUSED) return Errno("cannot probe", path, err);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("cannot remove stale socket", path, errno);
  return absl::OkStatus();
}

absl::StatusOr<gid_t> ResolveGroup(const std::string& name) {
  uint32_t numeric = 0;
  if (absl::SimpleAtoi(name, &numeric)) return static_cast<gid_t>(numeric);
  std::vector<char> buf(16384);
  struct group g;
  struct group* found = nullptr;
  if (::getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unix socket group \"", name, "\" does not exist"));
  }
  return found->gr_gid;
}

absl::Status ApplyUnixSocketPermissions(const std::string& path, mode_t mode, const std::string& group_name) {
  if (!group_name.empty()) {
    absl::StatusOr<gid_t> gid = ResolveGroup(group_name);
    if (!gid.ok()) return gid.status();
    if (::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0) return Errno("cannot chgrp", path, errno);
  }
  if (::chmod(path.c_str(), mode) != 0) return Errno("cannot chmod", path, errno);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ListenAddress& address,
                                                                               const ListenOptions& options) {
  RETURN_IF_ERROR(ValidateListenOptions(address, options));
  if (!options.tls.has_value()) return grpc::InsecureServerCredentials();

  absl::StatusOr<std::string> cert = ReadFile(options.tls->cert_file, "TLS certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(options.tls->key_file, "TLS key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (!options.tls->client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadFile(options.tls->client_ca_file, "TLS client CA");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  ssl.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace platform
