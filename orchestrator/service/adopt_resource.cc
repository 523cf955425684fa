// AdoptResource: the admin command that puts a CVM or an app into a tenant's scope
// (ownership_guard.h).
#include "orchestrator/service/orchestrator_service_impl.h"
#include "platform/reactors.h"

namespace orchestrator::service {

grpc::ServerUnaryReactor* OrchestratorServiceImpl::AdoptResource(grpc::CallbackServerContext* context,
                                                                 const v1::AdoptResourceRequest* request,
                                                                 v1::AdoptResourceResponse* response) {
  absl::StatusOr<access::Principal> caller = Admit(context, /*act=*/true);
  if (!caller.ok()) return platform::FinishUnary(context, caller.status());
  if (options_.ownership == nullptr) {
    return platform::FinishUnary(context, absl::UnimplementedError("AdoptResource: no ownership journal"));
  }
  absl::StatusOr<v1::AdoptResourceResponse> adopted = options_.ownership->Adopt(*caller, *request);
  if (adopted.ok()) *response = *std::move(adopted);
  return platform::FinishUnary(context, adopted.status());
}

}  // namespace orchestrator::service
