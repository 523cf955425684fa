// A client of several orchestrator replicas (Stack::replicas()), as a load balancer in front of
// them would be: call k goes to replica k mod N; a replica that is down (UNAVAILABLE, a broken
// connection, a deadline) gets the SAME request (same request_id) retried on the next replica, so
// idempotency across replicas is exercised by every kill. Reads go to whichever replica answers.
// Thread-safe: the stubs are.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_E2E_REPLICA_CLIENT_H_
#define ONCHAIN_KMS_ORCHESTRATOR_E2E_REPLICA_CLIENT_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orchestrator/e2e/stack.h"

namespace orchestrator::e2e {

class ReplicaClient {
 public:
  explicit ReplicaClient(Stack& stack, absl::Duration give_up_after = absl::Seconds(60))
      : stack_(stack), give_up_after_(give_up_after) {}

  absl::StatusOr<v1::Operation> Deploy(const v1::DeployCvmRequest& request, int k);
  absl::StatusOr<v1::Operation> UpdateDockerCompose(const v1::UpdateDockerComposeRequest& request, int k);
  absl::StatusOr<v1::Operation> SupplyEnvVars(const v1::SupplyEnvVarsRequest& request, int k);

  // Polls GetOperation, starting at replica k and moving on when one does not answer, until the
  // operation is terminal or in `until`.
  absl::StatusOr<v1::Operation> WaitFor(const std::string& id, int k, absl::Duration timeout,
                                        v1::OperationState until = v1::OPERATION_STATE_UNSPECIFIED);
  // GetOperation on one replica. wait_for_ready: for a replica known to be up; one just restarted
  // may still sit behind this channel's reconnect backoff from the kill, where a call fails fast
  // with the old "connection refused".
  absl::StatusOr<v1::Operation> Get(const std::string& id, int replica, bool wait_for_ready = false);

  // WatchOperation on `replica` until the stream ends; the events it delivered and how it ended.
  struct Watched {
    std::vector<v1::OperationEvent> events;
    grpc::Status status;
  };
  Watched Watch(const std::string& id, int replica, absl::Duration timeout);

  // Calls that had to move to another replica.
  int failovers() const { return failovers_.load(); }

 private:
  template <typename Request>
  using Rpc = grpc::Status (v1::Orchestrator::Stub::*)(grpc::ClientContext*, const Request&, v1::Operation*);
  template <typename Request>
  absl::StatusOr<v1::Operation> Submit(Rpc<Request> rpc, const Request& request, int k);

  Stack& stack_;
  const absl::Duration give_up_after_;
  std::atomic<int> failovers_{0};
};

// The code a replica that is down (or going down) answers with: try another one.
bool ReplicaDown(const grpc::Status& status);

}  // namespace orchestrator::e2e

#endif  // ONCHAIN_KMS_ORCHESTRATOR_E2E_REPLICA_CLIENT_H_
