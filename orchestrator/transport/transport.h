// The orchestrator's listener and the identity of every caller (recorded on each operation).
//
//   unix:/path   connections are accepted here, the peer's uid read with SO_PEERCRED, and the
//                socket handed to gRPC (AddInsecureChannelFromFd). Who may connect is decided by
//                the socket's mode and group. Identity "uid:<n>".
//   host:port    TCP only with TLS and client authentication: client certificates verified
//                against client_ca_file and matched against an allowlist (SHA-256 of the DER
//                certificate, or subject CN / SAN), identity "cert:<name>"; and/or bearer tokens
//                ("authorization: Bearer <token>") whose SHA-256 is in bearer_tokens_file,
//                identity "token:<name>". Plaintext only on a loopback address with
//                insecure_loopback, identity "insecure".
// Health (grpc.health.v1, visible through reflection) and server reflection are served too.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_TRANSPORT_TRANSPORT_H_
#define ONCHAIN_KMS_ORCHESTRATOR_TRANSPORT_TRANSPORT_H_

#include <sys/types.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "orchestrator/service/orchestrator_service_impl.h"
#include "platform/health_service.h"
#include "platform/listen.h"
#include "platform/transport/transport.h"

namespace orchestrator::transport {

struct TransportOptions {
  platform::ListenOptions listen;
  // mTLS allowlists (with listen.tls.client_ca_file).
  std::vector<std::string> allowed_client_cert_sha256;
  std::vector<std::string> allowed_client_names;
  // "<name> <sha256 hex>" per line; '#' comments. Honoured over TLS only.
  std::string bearer_tokens_file;
};

// Parses a bearer-tokens file's text: SHA-256 hex (lowercase) -> name. INVALID_ARGUMENT naming
// the line for a malformed one.
absl::StatusOr<std::map<std::string, std::string>> ParseBearerTokens(absl::string_view text);

class Transport final : public service::Authenticator {
 public:
  // Validates (INVALID_ARGUMENT: plaintext TCP off loopback, TLS without any client
  // authentication, ...), listens, serves `services` + health + reflection. Health starts
  // NOT_SERVING.
  static absl::StatusOr<std::unique_ptr<Transport>> Start(const TransportOptions& options,
                                                          const std::vector<platform::ServiceBinding>& services);
  ~Transport() override;

  absl::StatusOr<std::string> Authenticate(grpc::CallbackServerContext* context) override;

  platform::HealthService& health() { return health_; }
  const std::string& address() const { return address_; }
  // Stops accepting, ends health watches, gives calls in flight `grace`, removes the socket file.
  void Shutdown(absl::Duration grace);

 private:
  Transport() = default;
  void AcceptLoop();

  platform::HealthService health_;  // must outlive server_
  std::unique_ptr<grpc::Server> server_;
  TransportOptions options_;
  std::string address_;
  bool unix_ = false;
  bool tls_ = false;
  std::string unix_path_;
  int listen_fd_ = -1;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  bool shut_down_ = false;
  std::set<std::string> allowed_sha256_;
  std::set<std::string> allowed_names_;
  std::map<std::string, std::string> tokens_;  // sha256 hex -> name
  absl::Mutex peers_mu_;
  std::map<int, uid_t> peers_ ABSL_GUARDED_BY(peers_mu_);  // fd -> uid
};

}  // namespace orchestrator::transport

#endif  // ONCHAIN_KMS_ORCHESTRATOR_TRANSPORT_TRANSPORT_H_
