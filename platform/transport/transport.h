// The one transport of our gRPC services: a listener, the services on it plus grpc.health.v1 and
// server reflection, and the identity (platform::Caller) of every call.
//
//   unix:/path   connections are accepted by us (UnixAcceptor), the peer's uid/gid/pid read with
//                SO_PEERCRED and checked against a PeerAllowlist, then handed to gRPC. Caller
//                "uid:<n>". Without restrict_unix_peers the socket file's mode and group decide.
//   host:port    TLS, clients authenticated by a verified certificate on a ClientAllowlist
//                (SHA-256 or CN/SAN; "cert:<name>") and/or a bearer token from bearer_tokens_file
//                ("token:<name>"). Plaintext only on a loopback address with insecure_loopback
//                ("insecure").
//
// Typical use (the service needs the transport to authenticate, the transport the service to
// serve, hence two steps):
//
//   platform::ShutdownSignals signals;                            // before any thread exists
//   auto transport = platform::Transport::Create(options);        // validates, reads tokens
//   MyService service(**transport);                               // a platform::Authenticator
//   RETURN_IF_ERROR((*transport)->Serve({{MyService::service_full_name(), &service}}));
//   (*transport)->health().SetAll(platform::HealthService::kServing);
//   signals.Wait();
//   (*transport)->Shutdown(absl::Seconds(10));
#ifndef ONCHAIN_KMS_PLATFORM_TRANSPORT_TRANSPORT_H_
#define ONCHAIN_KMS_PLATFORM_TRANSPORT_TRANSPORT_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "platform/health_service.h"
#include "platform/listen.h"
#include "platform/transport/authenticator.h"
#include "platform/transport/bearer_tokens.h"
#include "platform/transport/caller.h"
#include "platform/transport/client_allowlist.h"
#include "platform/transport/peer_allowlist.h"
#include "platform/transport/unix_acceptor.h"

namespace platform {

// A service to register, with its full name ("onchainkms.signer.v1.Signer", the generated
// class's service_full_name()) under which its health status is kept.
struct ServiceBinding {
  std::string name;
  grpc::Service* service = nullptr;
};

struct TransportOptions {
  ListenOptions listen;
  // Unix socket. Off: whoever the socket file lets connect. On: our own uid, allowed_peer_uids,
  // and members of allowed_peer_gids and of listen.unix_group.
  bool restrict_unix_peers = false;
  std::vector<uid_t> allowed_peer_uids;
  std::vector<gid_t> allowed_peer_gids;
  // TLS with listen.tls.client_ca_file: the client certificates admitted.
  std::vector<std::string> allowed_client_cert_sha256;
  std::vector<std::string> allowed_client_names;
  // TLS: accepted bearer tokens (BearerTokens format); set on any other listener it is refused.
  std::string bearer_tokens_file;
  // TLS must verify client certificates (no bearer-token-only listener).
  bool require_client_certificate = false;
  int max_receive_message_bytes = 4 << 20;
  // Both are logged (WARN, ERROR); these are told as well, e.g. a test counting refusals. May be empty.
  UnixAcceptor::Refused on_refused_connection;
  UnixAcceptor::Failed on_accept_failure;
};

class Transport final : public Authenticator {
 public:
  // Checks the options without listening. INVALID_ARGUMENT: plaintext TCP off loopback, TLS
  // without client authentication, a bearer tokens file without TLS, client certificates without
  // an allowlist, a bad fingerprint, an unreadable or malformed bearer tokens file, an unknown
  // unix group.
  static absl::StatusOr<std::unique_ptr<Transport>> Create(TransportOptions options);
  // Create() then Serve().
  static absl::StatusOr<std::unique_ptr<Transport>> Start(TransportOptions options,
                                                          const std::vector<ServiceBinding>& services);
  ~Transport() override;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Listens and serves `services` + health + reflection; health "" and every service start
  // NOT_SERVING. FAILED_PRECONDITION when a live server owns the unix socket or its directory is
  // missing, UNAVAILABLE when it cannot bind. Once only.
  absl::Status Serve(const std::vector<ServiceBinding>& services);

  absl::StatusOr<Caller> Authenticate(const grpc::CallbackServerContext& context) const override;

  HealthService& health() { return health_; }
  // "unix:/path" or "host:port" (the real port when 0 was asked for); set by Serve().
  const std::string& address() const { return address_; }
  // Unix connections refused so far (peer not on the allowlist).
  uint64_t refused_connections() const { return acceptor_ != nullptr ? acceptor_->refused() : 0; }

  // Graceful: health NOT_SERVING (watch streams end), no new connections, calls in flight get
  // `grace` and are cancelled after it, the socket file is removed. Idempotent.
  void Shutdown(absl::Duration grace);
  // Unix socket: no new connections, and the open ones end now (calls in flight and any new call
  // on them fail UNAVAILABLE at the client), so that Shutdown cancels nothing. For a server whose
  // long calls have already ended (the orchestrator's watches); clients keep sending new calls on
  // an open connection until gRPC's shutdown deadline otherwise. No effect on a TCP listener.
  void EndUnixConnections();

 private:
  Transport() = default;
  // The unix acceptor, or the TCP port on `builder`.
  absl::Status OpenListener(grpc::ServerBuilder& builder, int* selected_port);
  absl::StatusOr<Caller> AuthenticateTls(const grpc::CallbackServerContext& context) const;
  absl::StatusOr<Caller> CertificateCaller(const grpc::AuthContext& auth, std::string peer) const;
  absl::StatusOr<Caller> BearerTokenCaller(const grpc::CallbackServerContext& context, std::string peer) const;

  TransportOptions options_;
  ListenAddress address_parsed_;
  PeerAllowlist peers_ = PeerAllowlist::Anyone();
  ClientAllowlist clients_;
  BearerTokens tokens_;
  HealthService health_;  // outlives server_
  std::unique_ptr<UnixAcceptor> acceptor_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  bool shut_down_ = false;
};

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_TRANSPORT_TRANSPORT_H_
