// Listen addresses of our gRPC servers, and the rules that keep them safe:
//   unix:/path/to.sock   a Unix domain socket (the default for a sidecar pair); a stale socket file
//                        left by a dead process is removed, a live one is refused, and the socket
//                        is chmod-ed (and optionally chgrp-ed) after bind.
//   host:port            TCP ("127.0.0.1:7443", "[::1]:7443", "0.0.0.0:7443"). Plaintext TCP is
//                        refused unless the host is a loopback address and the operator said
//                        insecure_loopback explicitly; anything else needs TLS.
#ifndef ONCHAIN_KMS_PLATFORM_LISTEN_H_
#define ONCHAIN_KMS_PLATFORM_LISTEN_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/server_credentials.h"

namespace platform {

// A parsed listen address.
struct ListenAddress {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string unix_path;  // kUnix: the socket path as given (relative paths stay relative)
  std::string host;       // kTcp: host name or IP literal, without brackets
  int port = 0;           // kTcp: 0..65535 (0 = pick a free port)
  bool loopback = false;  // kTcp: host is localhost, 127.0.0.0/8 or ::1

  // The address in gRPC's URI form ("unix:/path", "host:port", "[v6]:port").
  std::string GrpcUri() const;
};

// Parses "unix:/path", "unix:relative/path", "unix:///abs/path", "host:port" or "[v6]:port".
// INVALID_ARGUMENT with the reason for anything else (empty host, bad port, a socket path longer
// than sun_path allows, an abstract socket, ...).
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view address);

// True for "localhost", 127.0.0.0/8 and ::1.
bool IsLoopbackHost(absl::string_view host);

// PEM files of a TLS server. With client_ca_file set, client certificates are required and
// verified against it (mTLS); without it none are requested (bearer tokens must then
// authenticate callers).
struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
};

// Everything needed to open one listener.
struct ListenOptions {
  std::string address;             // see ParseListenAddress
  mode_t unix_mode = 0600;         // unix: file mode applied after bind
  std::string unix_group;          // unix: group name or numeric gid; empty keeps ours
  std::optional<TlsFiles> tls;     // tcp: TLS; required unless insecure_loopback
  bool insecure_loopback = false;  // tcp: allow plaintext on a loopback address
};

// Checks the combination is allowed (see the file comment). INVALID_ARGUMENT names the problem.
absl::Status ValidateListenOptions(const ListenAddress& address, const ListenOptions& options);

// Parses an octal file mode such as "0600" or "660". INVALID_ARGUMENT outside 0..0777.
absl::StatusOr<mode_t> ParseFileMode(absl::string_view mode);

// Before bind: if `path` exists and is a socket nobody answers on, removes it. FAILED_PRECONDITION
// if a server answers there or the path is not a socket; OK if nothing is there.
absl::Status RemoveStaleUnixSocket(const std::string& path);

// A group name or numeric gid. INVALID_ARGUMENT if no such group exists.
absl::StatusOr<gid_t> ResolveGroup(const std::string& name);

// After bind: chmod(path, mode) and, with a non-empty group, chown to that group.
absl::Status ApplyUnixSocketPermissions(const std::string& path, mode_t mode, const std::string& group_name);

// Server credentials for the options: TLS from the files, or insecure where allowed.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ListenAddress& address,
                                                                               const ListenOptions& options);

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_LISTEN_H_
