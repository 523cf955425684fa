// The orchestrator process assembled from its configuration: journal, Phala Cloud client, one
// JSON-RPC client + on-chain operations per chain, the signer client behind the journaling
// signer, the operation manager with every flow, the gRPC service on its transport, and the
// health monitor. main.cc only parses flags and waits for a signal.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_SERVER_APP_H_
#define ONCHAIN_KMS_ORCHESTRATOR_SERVER_APP_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "chain/jsonrpc/client.h"
#include "chain/onchain/operations.h"
#include "cloudapi/cloud_client.h"
#include "onchainkms/orchestrator/v1/config.pb.h"
#include "orchestrator/access/access_policy.h"
#include "orchestrator/engine/manager.h"
#include "orchestrator/engine/remote_watch.h"
#include "orchestrator/engine/signing.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/journal/step_nonces.h"
#include "orchestrator/metrics/orchestrator_metrics.h"
#include "orchestrator/service/orchestrator_service_impl.h"
#include "orchestrator/signer_client/signer_client.h"
#include "platform/http/metrics_server.h"
#include "platform/transport/transport.h"

namespace orchestrator::server {

namespace v1 = ::onchainkms::orchestrator::v1;

class App {
 public:
  // Everything from `config` (flags already applied) and the listener options. Fails with
  // INVALID_ARGUMENT for a bad configuration, FAILED_PRECONDITION when the journal is held by
  // another process (SQLite) or newer than this program, UNAUTHENTICATED when PostgreSQL refuses
  // the password, UNAVAILABLE when it cannot listen or reach the database.
  static absl::StatusOr<std::unique_ptr<App>> Start(const v1::OrchestratorConfig& config,
                                                    const platform::TransportOptions& listen);
  ~App();

  const std::string& address() const { return transport_->address(); }
  // Graceful: health NOT_SERVING, no new operations, in-flight steps checkpointed (they resume
  // on restart), watch streams ended, the listener closed. False if a worker was still blocked
  // in a network call when `grace` ran out (the caller should then exit without destructors).
  bool Shutdown(absl::Duration grace);

 private:
  App() = default;
  // Start()'s steps, in order.
  absl::Status OpenJournal(const v1::OrchestratorConfig& config);
  absl::Status ConnectPhalaCloud(const v1::OrchestratorConfig& config);
  absl::Status ConnectSigner(const v1::OrchestratorConfig& config);
  // One chain's JSON-RPC client and on-chain operations; its KMS type. `field` names it in errors.
  absl::StatusOr<v1::KmsType> AddChain(const v1::ChainConfig& chain, const std::string& field);
  absl::Status SetFlowOptions(const v1::OrchestratorConfig& config);
  // The `access` section (roles, tenants, signer-key grants) for the service and the signer path.
  absl::Status SetAccess(const v1::OrchestratorConfig& config);
  // Who owns which CVM and app, and the backfill of old deploys (app_ownership.cc).
  absl::Status SetUpOwnership();
  absl::Status StartManager(const v1::OrchestratorConfig& config);
  // The gRPC service on the transport, listening.
  absl::Status Serve(const std::map<uint64_t, v1::KmsType>& chain_types);
  // GET /metrics on metrics_port (none when 0).
  absl::Status ServeMetrics(const v1::OrchestratorConfig& config);
  void HealthLoop(absl::Duration interval);
  absl::Status CheckDependencies();

  metrics::OrchestratorMetrics metrics_;  // first: outlives everything that counts
  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<journal::StepNonces> nonces_;  // PostgreSQL: nonces shared by replicas; outlives ops_
  std::string journal_description_;
  std::unique_ptr<cloudapi::CloudClient> cloud_;
  std::unique_ptr<SignerClient> signer_client_;
  std::unique_ptr<engine::JournalingSigner> signer_;
  std::vector<std::unique_ptr<chain::jsonrpc::Client>> rpcs_;
  std::vector<std::unique_ptr<chain::onchain::OnchainOperations>> ops_;
  engine::OwnerTxInbox owner_txs_;  // before deps_ and the manager, which use it
  engine::FlowDeps deps_;
  std::unique_ptr<access::AccessPolicy> policy_;
  std::unique_ptr<service::OwnershipGuard> ownership_;
  // PostgreSQL: Watch of operations other replicas run; outlives manager_ (it points to it).
  std::unique_ptr<engine::ChangeFollower> follower_;
  std::unique_ptr<engine::OperationManager> manager_;
  std::unique_ptr<service::KmsDirectory> kms_;
  std::unique_ptr<platform::Transport> transport_;
  std::unique_ptr<service::OrchestratorServiceImpl> service_;
  std::unique_ptr<platform::http::MetricsServer> metrics_server_;
  std::thread health_thread_;
  absl::Notification stop_health_;
  bool shut_down_ = false;
};

}  // namespace orchestrator::server

#endif  // ONCHAIN_KMS_ORCHESTRATOR_SERVER_APP_H_
