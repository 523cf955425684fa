#include "orchestrator/orchestrator_service.h"

#include "rpc/reactors.h"

namespace orchestrator {
namespace {
constexpr char kIssue[] = "issue #7, the orchestrator";
}  // namespace

grpc::ServerUnaryReactor* OrchestratorService::ListKmsInstances(grpc::CallbackServerContext* context,
                                                                const v1::ListKmsInstancesRequest*,
                                                                v1::ListKmsInstancesResponse*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("ListKmsInstances", kIssue));
}

grpc::ServerUnaryReactor* OrchestratorService::DeployCvm(grpc::CallbackServerContext* context,
                                                         const v1::DeployCvmRequest*, v1::Operation*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("DeployCvm", kIssue));
}

grpc::ServerUnaryReactor* OrchestratorService::UpdateEnvVars(grpc::CallbackServerContext* context,
                                                             const v1::UpdateEnvVarsRequest*,
                                                             v1::Operation*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("UpdateEnvVars", kIssue));
}

grpc::ServerUnaryReactor* OrchestratorService::UpdateDockerCompose(grpc::CallbackServerContext* context,
                                                                   const v1::UpdateDockerComposeRequest*,
                                                                   v1::Operation*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("UpdateDockerCompose", kIssue));
}

grpc::ServerUnaryReactor* OrchestratorService::UpdateComposeFile(grpc::CallbackServerContext* context,
                                                                 const v1::UpdateComposeFileRequest*,
                                                                 v1::Operation*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("UpdateComposeFile", kIssue));
}

grpc::ServerUnaryReactor* OrchestratorService::AddComposeHash(grpc::CallbackServerContext* context,
                                                              const v1::AddComposeHashRequest*,
                                                              v1::Operation*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("AddComposeHash", kIssue));
}

grpc::ServerUnaryReactor* OrchestratorService::SupplyEnvVars(grpc::CallbackServerContext* context,
                                                             const v1::SupplyEnvVarsRequest*,
                                                             v1::Operation*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("SupplyEnvVars", kIssue));
}

grpc::ServerUnaryReactor* OrchestratorService::GetOperation(grpc::CallbackServerContext* context,
                                                            const v1::GetOperationRequest*, v1::Operation*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("GetOperation", kIssue));
}

grpc::ServerUnaryReactor* OrchestratorService::ListOperations(grpc::CallbackServerContext* context,
                                                              const v1::ListOperationsRequest*,
                                                              v1::ListOperationsResponse*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("ListOperations", kIssue));
}

grpc::ServerWriteReactor<v1::OperationEvent>* OrchestratorService::WatchOperation(
    grpc::CallbackServerContext*, const v1::WatchOperationRequest*) {
  return rpc::FinishStream<v1::OperationEvent>(rpc::Unimplemented("WatchOperation", kIssue));
}

grpc::ServerUnaryReactor* OrchestratorService::CancelOperation(grpc::CallbackServerContext* context,
                                                               const v1::CancelOperationRequest*,
                                                               v1::Operation*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("CancelOperation", kIssue));
}

}  // namespace orchestrator
