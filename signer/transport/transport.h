// The transport layer of the signer: a gRPC server (the Signer service, grpc.health.v1 and
// reflection) on one listener, and the identity and authorisation of every caller.
//
//   unix:/path   (default) the signer accepts connections itself, reads the peer's uid/gid/pid
//                with SO_PEERCRED, closes connections from uids that are not allowed, and hands
//                the others to gRPC (grpc::AddInsecureChannelFromFd). Calls on such a
//                connection carry the peer "fd:N", which maps back to the credentials.
//   host:port    TCP only with TLS and required, verified client certificates (mTLS); each call
//                is authorised against an allowlist of certificate SHA-256 fingerprints and
//                subject names. Plaintext only on a loopback address with insecure_loopback.
//
// The transport knows nothing of keys or policy.
#ifndef ONCHAIN_KMS_SIGNER_TRANSPORT_TRANSPORT_H_
#define ONCHAIN_KMS_SIGNER_TRANSPORT_TRANSPORT_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "grpcpp/support/server_callback.h"
#include "platform/health_service.h"
#include "platform/listen.h"
#include "platform/transport/transport.h"

namespace signer::transport {

// Who is calling. Never contains a secret.
struct CallerIdentity {
  enum class Kind { kUnixPeer, kTlsClient, kInsecureLoopback };
  Kind kind = Kind::kUnixPeer;
  // kUnixPeer
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  // kTlsClient
  std::string cert_sha256;  // lowercase hex of the DER certificate's SHA-256
  std::string subject;
  std::vector<std::string> names;  // CN and SANs from gRPC's auth context
  // kInsecureLoopback / kTlsClient
  std::string peer;  // gRPC peer string ("ipv4:127.0.0.1:5555")

  // Short human form for logs: "uid=1000 pid=42", "cert=ab12... subject=CN=x", "insecure ipv4:...".
  std::string ToString() const;
};

struct TransportOptions {
  platform::ListenOptions listen;
  // Unix socket: uids allowed besides our own uid (and members of listen.unix_group).
  std::vector<uid_t> allowed_peer_uids;
  // mTLS: allowed client certificates by SHA-256 (hex) or by subject CN / SAN.
  std::vector<std::string> allowed_client_cert_sha256;
  std::vector<std::string> allowed_client_names;
};

class Transport {
 public:
  // Validates the options (INVALID_ARGUMENT: plaintext TCP off loopback, TLS without a client
  // CA or without an allowlist, ...), listens and starts serving `services` plus health and
  // reflection. Health starts NOT_SERVING.
  static absl::StatusOr<std::unique_ptr<Transport>> Start(const TransportOptions& options,
                                                          const std::vector<platform::ServiceBinding>& services);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  platform::HealthService& health() { return health_; }
  // "unix:/path" or "host:port" (the real port).
  const std::string& address() const { return address_; }

  // The caller of a call, or PERMISSION_DENIED (a TLS client not on the allowlist, an unknown
  // peer). Call at the start of every handler.
  absl::StatusOr<CallerIdentity> Authorize(const grpc::CallbackServerContext& context) const;

  // Unix connections refused so far (wrong uid).
  uint64_t refused_connections() const { return refused_.load(); }

  // Graceful: health NOT_SERVING, stop accepting, calls in flight get `grace`, socket removed.
  void Shutdown(absl::Duration grace);

 private:
  Transport() = default;
  void AcceptLoop();
  bool PeerAllowed(uid_t uid, gid_t gid) const;

  TransportOptions options_;
  platform::HealthService health_;  // outlives server_
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  bool unix_ = false;
  std::string unix_path_;
  int listen_fd_ = -1;
  uid_t own_uid_ = 0;
  std::optional<gid_t> group_gid_;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> refused_{0};
  bool shut_down_ = false;
  absl::flat_hash_set<std::string> allowed_sha256_;
  absl::flat_hash_set<std::string> allowed_names_;

  mutable absl::Mutex peers_mu_;
  absl::flat_hash_map<int, CallerIdentity> peers_ ABSL_GUARDED_BY(peers_mu_);  // by fd
};

}  // namespace signer::transport

#endif  // ONCHAIN_KMS_SIGNER_TRANSPORT_TRANSPORT_H_
