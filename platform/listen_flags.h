// The listener settings both binaries share, from their config file's `listen` section and from
// command-line flags:
//   --listen=unix:/path | host:port   replaces the config's whole listen section
//   --socket_mode=0660 --socket_group=NAME
//   --insecure_loopback               allow plaintext TCP on a loopback address
//   --tls_cert_file --tls_key_file --tls_client_ca_file
// A flag given on the command line wins over the file.
#ifndef ONCHAIN_KMS_PLATFORM_LISTEN_FLAGS_H_
#define ONCHAIN_KMS_PLATFORM_LISTEN_FLAGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "platform/listen.h"

namespace platform {

// `base` (from the config file or the binary's default) with the listen flags applied.
// INVALID_ARGUMENT for a bad --socket_mode or an incomplete set of TLS flags.
absl::StatusOr<ListenOptions> ApplyListenFlags(ListenOptions base);

// Converts a config file's ListenConfig message (the signer's and the orchestrator's have the
// same shape: oneof unix {path, mode, group} / tcp {address, tls {cert_file, key_file,
// client_ca_file}, insecure_loopback}) into ListenOptions; an empty section gives `defaults`.
template <typename ListenConfig>
absl::StatusOr<ListenOptions> ListenOptionsFromConfig(const ListenConfig& listen, ListenOptions defaults) {
  ListenOptions out;
  if (listen.has_unix()) {
    if (listen.unix().path().empty()) return absl::InvalidArgumentError("listen.unix.path: required");
    out.address = absl::StrCat("unix:", listen.unix().path());
    if (!listen.unix().mode().empty()) {
      absl::StatusOr<mode_t> mode = ParseFileMode(listen.unix().mode());
      if (!mode.ok()) return absl::InvalidArgumentError(absl::StrCat("listen.unix.mode: ", mode.status().message()));
      out.unix_mode = *mode;
    }
    out.unix_group = listen.unix().group();
    return out;
  }
  if (listen.has_tcp()) {
    if (listen.tcp().address().empty()) return absl::InvalidArgumentError("listen.tcp.address: required");
    out.address = listen.tcp().address();
    out.insecure_loopback = listen.tcp().insecure_loopback();
    if (listen.tcp().has_tls()) {
      out.tls =
          TlsFiles{listen.tcp().tls().cert_file(), listen.tcp().tls().key_file(), listen.tcp().tls().client_ca_file()};
    }
    return out;
  }
  return defaults;
}

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_LISTEN_FLAGS_H_
