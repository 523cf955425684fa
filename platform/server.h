// Builds and runs one of our gRPC servers: the given services plus grpc.health.v1.Health and
// server reflection, on a listener checked by platform/listen.h. Typical main():
//
//   platform::ShutdownSignals signals;                       // first: before any thread exists
//   MyService service;
//   auto server = platform::Server::Start(listen, {{MyService::service_full_name(), &service}});
//   if (!server.ok()) { ...; return 1; }
//   (*server)->health().SetAll(platform::HealthService::kServing);
//   signals.Wait();
//   (*server)->Shutdown(absl::Seconds(10));
#ifndef ONCHAIN_KMS_PLATFORM_SERVER_H_
#define ONCHAIN_KMS_PLATFORM_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "platform/health_service.h"
#include "platform/listen.h"

namespace platform {

// A service to register, with its full name ("onchainkms.signer.v1.Signer", i.e. the generated
// class's service_full_name()) under which its health status is kept.
struct ServiceBinding {
  std::string name;
  grpc::Service* service = nullptr;
};

class Server {
 public:
  // Listens (see ListenOptions), registers the services, health and reflection, and starts.
  // Health: "" and every service name start NOT_SERVING; the caller sets SERVING when ready.
  // INVALID_ARGUMENT for a refused listen configuration, FAILED_PRECONDITION when a live server
  // already owns the unix socket, UNAVAILABLE when gRPC cannot bind.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ListenOptions& listen,
                                                       const std::vector<ServiceBinding>& services);

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // Shuts down (without grace) if Shutdown() was not called.
  ~Server();

  HealthService& health() { return health_; }
  // Where clients connect: "unix:/path" or "host:port" with the real port when 0 was asked for.
  const std::string& address() const { return address_; }

  // Graceful shutdown: health turns NOT_SERVING (watch streams end), new calls are refused, calls
  // in flight get up to `grace` to finish and are cancelled after it; the unix socket file is
  // removed. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  Server() = default;

  HealthService health_;  // declared first: must outlive server_
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::string unix_path_;  // to remove on shutdown; empty for TCP
  bool shut_down_ = false;
};

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_SERVER_H_
