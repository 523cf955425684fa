// The Orchestrator gRPC service (onchainkms.orchestrator.v1.Orchestrator). For now a skeleton:
// every RPC answers UNIMPLEMENTED naming the issue that implements it (#7: durable flows, the
// journal, KMS listing through the Phala Cloud client of #5 and the chain operations of #6).
// Dependencies (journal, cloud client, chain client, signer client) will be handed to the
// constructor.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_
#define ONCHAIN_KMS_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_

#include "onchainkms/orchestrator/v1/orchestrator.grpc.pb.h"

namespace orchestrator {

namespace v1 = ::onchainkms::orchestrator::v1;

class OrchestratorService final : public v1::Orchestrator::CallbackService {
 public:
  OrchestratorService() = default;

  grpc::ServerUnaryReactor* ListKmsInstances(grpc::CallbackServerContext* context,
                                             const v1::ListKmsInstancesRequest* request,
                                             v1::ListKmsInstancesResponse* response) override;
  grpc::ServerUnaryReactor* DeployCvm(grpc::CallbackServerContext* context,
                                      const v1::DeployCvmRequest* request, v1::Operation* response) override;
  grpc::ServerUnaryReactor* UpdateEnvVars(grpc::CallbackServerContext* context,
                                          const v1::UpdateEnvVarsRequest* request,
                                          v1::Operation* response) override;
  grpc::ServerUnaryReactor* UpdateDockerCompose(grpc::CallbackServerContext* context,
                                                const v1::UpdateDockerComposeRequest* request,
                                                v1::Operation* response) override;
  grpc::ServerUnaryReactor* UpdateComposeFile(grpc::CallbackServerContext* context,
                                              const v1::UpdateComposeFileRequest* request,
                                              v1::Operation* response) override;
  grpc::ServerUnaryReactor* AddComposeHash(grpc::CallbackServerContext* context,
                                           const v1::AddComposeHashRequest* request,
                                           v1::Operation* response) override;
  grpc::ServerUnaryReactor* SupplyEnvVars(grpc::CallbackServerContext* context,
                                          const v1::SupplyEnvVarsRequest* request,
                                          v1::Operation* response) override;
  grpc::ServerUnaryReactor* GetOperation(grpc::CallbackServerContext* context,
                                         const v1::GetOperationRequest* request,
                                         v1::Operation* response) override;
  grpc::ServerUnaryReactor* ListOperations(grpc::CallbackServerContext* context,
                                           const v1::ListOperationsRequest* request,
                                           v1::ListOperationsResponse* response) override;
  grpc::ServerWriteReactor<v1::OperationEvent>* WatchOperation(
      grpc::CallbackServerContext* context, const v1::WatchOperationRequest* request) override;
  grpc::ServerUnaryReactor* CancelOperation(grpc::CallbackServerContext* context,
                                            const v1::CancelOperationRequest* request,
                                            v1::Operation* response) override;
};

}  // namespace orchestrator

#endif  // ONCHAIN_KMS_ORCHESTRATOR_ORCHESTRATOR_SERVICE_H_
