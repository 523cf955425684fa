#include "platform/listen_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, listen, "",
          "where to listen: unix:/path/to.sock or host:port; replaces the config file's listen section "
          "(default: that section, else unix:/run/onchain-kms/<binary>.sock)");
ABSL_FLAG(std::string, socket_mode, "", "unix socket file mode, octal (default 0600)");
ABSL_FLAG(std::string, socket_group, "", "unix socket group (name or gid), e.g. to use --socket_mode=0660");
ABSL_FLAG(bool, insecure_loopback, false,
          "allow plaintext TCP on a loopback address (development only; never another address)");
ABSL_FLAG(std::string, tls_cert_file, "", "TCP: server certificate chain (PEM)");
ABSL_FLAG(std::string, tls_key_file, "", "TCP: server private key (PEM)");
ABSL_FLAG(std::string, tls_client_ca_file, "", "TCP: CA bundle for client certificates (enables mTLS)");

namespace platform {

absl::StatusOr<ListenOptions> ApplyListenFlags(ListenOptions base) {
  ListenOptions out = std::move(base);
  if (const std::string listen = absl::GetFlag(FLAGS_listen); !listen.empty()) {
    out = ListenOptions{};
    out.address = listen;
  }
  if (const std::string mode = absl::GetFlag(FLAGS_socket_mode); !mode.empty()) {
    absl::StatusOr<mode_t> parsed = ParseFileMode(mode);
    if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat("--socket_mode: ", parsed.status().message()));
    out.unix_mode = *parsed;
  }
  if (const std::string group = absl::GetFlag(FLAGS_socket_group); !group.empty()) out.unix_group = group;
  if (absl::GetFlag(FLAGS_insecure_loopback)) out.insecure_loopback = true;
  const std::string cert = absl::GetFlag(FLAGS_tls_cert_file);
  const std::string key = absl::GetFlag(FLAGS_tls_key_file);
  const std::string ca = absl::GetFlag(FLAGS_tls_client_ca_file);
  if (!cert.empty() || !key.empty() || !ca.empty()) {
    if (cert.empty() || key.empty()) {
      return absl::InvalidArgumentError("--tls_cert_file and --tls_key_file go together");
    }
    out.tls = TlsFiles{cert, key, ca};
  }
  return out;
}

}  // namespace platform
