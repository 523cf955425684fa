// A real grpc.health.v1.Health service (Check and Watch), compiled from the standard health.proto
// so that server reflection can describe it (gRPC 1.51's built-in one is invisible to reflection).
//
// Statuses are per service name; "" is the whole server. A name nobody set is unknown: Check
// answers NOT_FOUND and Watch sends SERVICE_UNKNOWN until the name is set, as the protocol says.
#ifndef ONCHAIN_KMS_PLATFORM_HEALTH_SERVICE_H_
#define ONCHAIN_KMS_PLATFORM_HEALTH_SERVICE_H_

#include <map>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace platform {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;
  static constexpr ServingStatus kServing = grpc::health::v1::HealthCheckResponse::SERVING;
  static constexpr ServingStatus kNotServing = grpc::health::v1::HealthCheckResponse::NOT_SERVING;

  HealthService() = default;
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;
  // Destroy only after the gRPC server that serves it has shut down.
  ~HealthService() override;

  // Sets one service's status and tells its watchers. Ignored after Shutdown().
  void SetServingStatus(const std::string& service, ServingStatus status);
  // Sets every service that has a status, "" included.
  void SetAll(ServingStatus status);
  // The current status; SERVICE_UNKNOWN for a name never set.
  ServingStatus GetServingStatus(const std::string& service) const;

  // For graceful shutdown: every service becomes NOT_SERVING (watchers are told), later changes
  // are ignored, and every Watch stream then ends with OK.
  void Shutdown();

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context, const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class WatchReactor;
  void Unregister(WatchReactor* watcher);

  mutable absl::Mutex mu_;
  std::map<std::string, ServingStatus> statuses_ ABSL_GUARDED_BY(mu_);
  std::set<WatchReactor*> watchers_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_HEALTH_SERVICE_H_
