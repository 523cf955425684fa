// The Orchestrator gRPC service (onchainkms.orchestrator.v1.Orchestrator) over the
// OperationManager: authenticates the caller, validates and normalizes the request (nothing is
// journaled for a bad one), submits it, and maps absl::Status to gRPC status at the edge.
// WatchOperation is a callback-API server stream fed by the manager's events.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_SERVICE_ORCHESTRATOR_SERVICE_IMPL_H_
#define ONCHAIN_KMS_ORCHESTRATOR_SERVICE_ORCHESTRATOR_SERVICE_IMPL_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chain/address.h"
#include "cloudapi/cloud_client.h"
#include "onchainkms/orchestrator/v1/orchestrator.grpc.pb.h"
#include "orchestrator/access/access_policy.h"
#include "orchestrator/engine/manager.h"
#include "orchestrator/service/access_gate.h"
#include "orchestrator/service/ownership_guard.h"
#include "orchestrator/service/supply_limiter.h"
#include "orchestrator/service/validation.h"
#include "platform/transport/authenticator.h"

namespace orchestrator::service {

// The KMS instances the Phala Cloud account can use, cached for validation.
class KmsDirectory {
 public:
  KmsDirectory(cloudapi::CloudClient& cloud, absl::Duration max_age) : cloud_(cloud), max_age_(max_age) {}
  // All instances (every page of GET /kms). Refreshed when older than max_age or `refresh`.
  // UNAVAILABLE when the API cannot be reached and nothing is cached.
  absl::StatusOr<std::vector<cloudapi::KmsInfo>> Get(bool refresh = false, bool onchain_only = false);
  // The client it reads with (GetCvm, ListCvms, ListNodes read through it too).
  cloudapi::CloudClient& cloud() const { return cloud_; }

 private:
  cloudapi::CloudClient& cloud_;
  const absl::Duration max_age_;
  absl::Mutex mu_;
  std::vector<cloudapi::KmsInfo> cached_ ABSL_GUARDED_BY(mu_);
  absl::Time fetched_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

struct ServiceOptions {
  std::map<uint64_t, v1::KmsType> chains;  // configured chains and their KMS type
  std::optional<chain::Address> default_signer_key;
  // Who may do what (not owned; outlives the service). Null: as without an `access` section.
  const access::AccessPolicy* policy = nullptr;
  // Who may change which CVM or app, and AdoptResource (not owned; outlives the service;
  // uses `policy`). Null: no ownership checks and AdoptResource is UNIMPLEMENTED (tests of other parts only).
  const OwnershipGuard* ownership = nullptr;
  // The chains' RPC clients, the Phala Cloud client and the signer's keys, for the read-only
  // GetAppState (not owned; outlives the service). Null: GetAppState is UNAVAILABLE.
  const engine::FlowDeps* flow_deps = nullptr;
  // SubmitOwnerTransaction after access and validation (flows/owner_action.h); unset: UNIMPLEMENTED.
  std::function<absl::StatusOr<v1::Operation>(const v1::SubmitOwnerTransactionRequest&)> submit_owner_transaction;
};

class OrchestratorServiceImpl final : public v1::Orchestrator::CallbackService {
 public:
  // `auth` (the transport) names the caller of every call; operations are journaled under its
  // Caller::JournalKey() ("uid:<n>", "cert:<name>", "token:<name>", "insecure"), and
  // options.policy decides what it may see and do (access_gate.h).
  OrchestratorServiceImpl(engine::OperationManager& manager, KmsDirectory& kms, const platform::Authenticator& auth,
                          ServiceOptions options);

  grpc::ServerUnaryReactor* ListKmsInstances(grpc::CallbackServerContext* context,
                                             const v1::ListKmsInstancesRequest* request,
                                             v1::ListKmsInstancesResponse* response) override;
  grpc::ServerUnaryReactor* DeployCvm(grpc::CallbackServerContext* context, const v1::DeployCvmRequest* request,
                                      v1::Operation* response) override;
  grpc::ServerUnaryReactor* UpdateEnvVars(grpc::CallbackServerContext* context, const v1::UpdateEnvVarsRequest* request,
                                          v1::Operation* response) override;
  grpc::ServerUnaryReactor* UpdateDockerCompose(grpc::CallbackServerContext* context,
                                                const v1::UpdateDockerComposeRequest* request,
                                                v1::Operation* response) override;
  grpc::ServerUnaryReactor* UpdateComposeFile(grpc::CallbackServerContext* context,
                                              const v1::UpdateComposeFileRequest* request,
                                              v1::Operation* response) override;
  grpc::ServerUnaryReactor* AddComposeHash(grpc::CallbackServerContext* context,
                                           const v1::AddComposeHashRequest* request, v1::Operation* response) override;
  grpc::ServerUnaryReactor* UpdateAppContract(grpc::CallbackServerContext* context,
                                              const v1::UpdateAppContractRequest* request,
                                              v1::Operation* response) override;
  // app_state_rpc.cc
  grpc::ServerUnaryReactor* GetAppState(grpc::CallbackServerContext* context, const v1::GetAppStateRequest* request,
                                        v1::AppState* response) override;
  grpc::ServerUnaryReactor* SupplyEnvVars(grpc::CallbackServerContext* context, const v1::SupplyEnvVarsRequest* request,
                                          v1::Operation* response) override;
  grpc::ServerUnaryReactor* GetOperation(grpc::CallbackServerContext* context, const v1::GetOperationRequest* request,
                                         v1::Operation* response) override;
  grpc::ServerUnaryReactor* ListOperations(grpc::CallbackServerContext* context,
                                           const v1::ListOperationsRequest* request,
                                           v1::ListOperationsResponse* response) override;
  grpc::ServerWriteReactor<v1::OperationEvent>* WatchOperation(grpc::CallbackServerContext* context,
                                                               const v1::WatchOperationRequest* request) override;
  grpc::ServerUnaryReactor* CancelOperation(grpc::CallbackServerContext* context,
                                            const v1::CancelOperationRequest* request,
                                            v1::Operation* response) override;
  grpc::ServerUnaryReactor* SubmitOwnerTransaction(grpc::CallbackServerContext* context,
                                                   const v1::SubmitOwnerTransactionRequest* request,
                                                   v1::Operation* response) override;
  // adopt_resource.cc
  grpc::ServerUnaryReactor* AdoptResource(grpc::CallbackServerContext* context, const v1::AdoptResourceRequest* request,
                                          v1::AdoptResourceResponse* response) override;
  // cvm_reads.cc
  grpc::ServerUnaryReactor* GetCvm(grpc::CallbackServerContext* context, const v1::GetCvmRequest* request,
                                   v1::Cvm* response) override;
  grpc::ServerUnaryReactor* ListCvms(grpc::CallbackServerContext* context, const v1::ListCvmsRequest* request,
                                     v1::ListCvmsResponse* response) override;
  grpc::ServerUnaryReactor* ListNodes(grpc::CallbackServerContext* context, const v1::ListNodesRequest* request,
                                      v1::ListNodesResponse* response) override;

 private:
  absl::StatusOr<ValidationContext> Context(bool need_kms);
  absl::StatusOr<v1::AppState> ReadAppState(grpc::CallbackServerContext* context,
                                            const v1::GetAppStateRequest& request);
  // The authenticated caller's principal; `act`: refuses read-only roles too.
  absl::StatusOr<access::Principal> Admit(grpc::CallbackServerContext* context, bool act);
  // cvm_reads.cc: whether `p` may see a CVM the API reported (tenant scope).
  absl::StatusOr<bool> MaySeeCvm(const access::Principal& p, const cloudapi::CvmInfo& cvm) const;
  template <typename Request>
  absl::StatusOr<v1::Operation> Submit(grpc::CallbackServerContext* context, const Request& request,
                                       v1::OperationKind kind);

  engine::OperationManager& manager_;
  KmsDirectory& kms_;
  const platform::Authenticator& auth_;
  const ServiceOptions options_;
  std::unique_ptr<access::AccessPolicy> own_policy_;  // when options.policy is null
  const AccessGate gate_;
  SupplyLimiter supply_limiter_;
};

// Page tokens of ListOperations: opaque, bound to the filters and the caller they were issued for
// (`scope`: the caller's journal key; a token does not carry over to another caller).
std::string EncodePageToken(const journal::ListCursor& cursor, const v1::ListOperationsRequest& filters,
                            absl::string_view scope = "");
absl::StatusOr<journal::ListCursor> DecodePageToken(absl::string_view token, const v1::ListOperationsRequest& filters,
                                                    absl::string_view scope = "");

}  // namespace orchestrator::service

#endif  // ONCHAIN_KMS_ORCHESTRATOR_SERVICE_ORCHESTRATOR_SERVICE_IMPL_H_
