// The OperationManager: accepts operations (idempotently per caller and request_id), journals
// them, runs them on a pool of workers, resumes every unfinished one at start-up, and serves
// Get / List / Watch / Cancel / SupplyEnvVars. The gRPC service (orchestrator/service) is a thin
// layer of validation and mapping over it.
//
// A journal that cannot be written (journal.h: UNAVAILABLE, e.g. disk full, I/O error, a database
// outage) pauses the operations whose writes failed instead of failing them (the failure could
// not be written either): each is parked in memory with its env values, its RUNNING steps
// treated as after a restart (may_have_run). A prober retries a harmless write (a no-op Update
// of a paused operation) with back-off and, once one works, queues them all again.
// JournalHealth() is UNAVAILABLE meanwhile (the health check reports NOT_SERVING).
//
// On a shared journal (journal.h shared(): PostgreSQL, several replicas; design
// docs/design/postgres-replicas.md § 4) the manager is one replica, named by `owner_id`: a
// LeaseKeeper registers it and keeps its lease; Start reclaims the operations this replica id
// owned, and every claim_interval the keeper claims runnable operations nobody live owns (a dead
// replica's, after its lease expired). A claimed operation is loaded exactly as at a restart
// (RUNNING steps resume with may_have_run; env values are not here, so a flow that still needs
// them waits for input). An operation that waits for input is released, so that SupplyEnvVars
// (or a retry of the request) on any replica claims and runs it. A fenced write refused with
// LeaseLost drops the operation here without writing it again. Get and List answer from the
// journal for operations not loaded here; Cancel on a replica that does not run the operation
// stores cancel_requested, which the owner acts on (or claims and cancels it when nobody live
// owns it). LeaseHealth() is UNAVAILABLE while the lease is not current (self-fencing: no step
// starts then).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_ENGINE_MANAGER_H_
#define ONCHAIN_KMS_ORCHESTRATOR_ENGINE_MANAGER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chain/address.h"
#include "cloudapi/env_vars.h"
#include "orchestrator/engine/flow.h"
#include "orchestrator/engine/lease_keeper.h"
#include "orchestrator/engine/op_context.h"
#include "orchestrator/journal/journal.h"

namespace orchestrator::engine {

class ChangeFollower;

struct ManagerOptions {
  int workers = 64;  // operations run at once: the most worker threads
  // Worker threads start as work is queued (up to `workers`); beyond `idle_workers` idle ones, a
  // thread idle for `idle_worker_timeout` ends (a burst's threads do not stay for good).
  int idle_workers = 8;
  absl::Duration idle_worker_timeout = absl::Seconds(30);
  RunOptions run;
  // The journal's owner column: this replica's id on a shared journal (unique among live
  // replicas), "local" for one process.
  std::string owner_id = "local";
  LeaseOptions lease;  // timings of the replica lease on a shared journal
  // Optional secret mixed into the env-value digests (see EnvValuesMac); empty: the per-operation
  // salt alone keys them.
  std::string env_digest_key;
  // With a journal shared by several replicas: follows, for Watch, the operations this process
  // does not run (remote_watch.h; not owned, outlives the manager). Null: such a Watch gets the
  // snapshot and ends UNAVAILABLE ("not running in this process").
  ChangeFollower* remote_watch = nullptr;
};

// A new operation as the service accepted it.
struct Submission {
  std::string caller;
  std::string request_id;
  v1::OperationKind kind = v1::OPERATION_KIND_UNSPECIFIED;
  // The normalized request, env var values cleared, serialized; and its digest (hex).
  std::string request;
  std::string request_digest;
  std::vector<std::string> env_keys;
  bool needs_env_values = false;
  std::vector<cloudapi::EnvVar> env_values;  // secret; moved in, wiped when no longer needed
  std::string cvm_id;
  std::optional<chain::Address> signer_key;  // resolved; none if not needed
  // The caller's tenant and whether it is an admin (FlowState.tenant, tenant_admin).
  std::string tenant;
  bool tenant_admin = false;
};

struct ListResult {
  std::vector<v1::Operation> operations;
  std::optional<journal::ListCursor> next;  // set when there may be more
};

class OperationManager {
 public:
  OperationManager(journal::Journal& journal, const FlowDeps& deps, FlowRegistry flows, ManagerOptions options);
  ~OperationManager();
  OperationManager(const OperationManager&) = delete;
  OperationManager& operator=(const OperationManager&) = delete;

  // Loads every unfinished operation, prepares the repair of interrupted signatures, queues the
  // runnable ones and starts the workers.
  absl::Status Start();
  // Stops taking work, interrupts waits (steps stay RUNNING in the journal, checkpointed), ends
  // watch streams with UNAVAILABLE, waits up to `grace` for the workers. False if some worker was
  // still busy (a blocking call) when the grace ran out.
  bool Shutdown(absl::Duration grace);

  // The operation for this (caller, request_id): a new one, or the existing one when the request
  // is the same (ALREADY_EXISTS when it differs). A same-request retry of an operation waiting
  // for input also supplies the env var values it carries.
  absl::StatusOr<v1::Operation> Submit(Submission submission);
  absl::StatusOr<v1::Operation> Get(absl::string_view id);
  // The identity that submitted it, without materializing the operation (access checks).
  absl::StatusOr<std::string> Caller(absl::string_view id);
  // Get with the private state (never holds env values), for checks that need what the flow
  // journaled (SubmitOwnerTransaction).
  absl::StatusOr<std::pair<v1::Operation, state::FlowState>> GetWithState(absl::string_view id);
  absl::StatusOr<ListResult> List(const journal::ListQuery& query);
  absl::StatusOr<v1::Operation> Cancel(absl::string_view id);
  // NOT_FOUND, FAILED_PRECONDITION (not waiting), INVALID_ARGUMENT (keys or values differ from
  // the original request's: one message for both).
  absl::StatusOr<v1::Operation> SupplyEnvVars(absl::string_view id, absl::string_view request_id,
                                              std::vector<cloudapi::EnvVar> values);
  // Pushes a SNAPSHOT event, then every change; closes the sink after the terminal event (at
  // once for a finished operation). NOT_FOUND when unknown. An operation run by another replica
  // is followed through `remote_watch` with the same events.
  absl::Status Watch(absl::string_view id, std::shared_ptr<WatchSink> sink);
  void Unwatch(absl::string_view id, const WatchSink* sink);

  // Keyed digest of env var values for idempotency (never stored in clear):
  // HMAC-SHA256(HMAC-SHA256(env_digest_key, salt), canonical(values)).
  std::string EnvValuesMac(absl::string_view salt, const std::vector<cloudapi::EnvVar>& values) const;

  size_t active_operations() const;
  bool started() const;
  // OK unless operations are paused because the journal could not be written: then UNAVAILABLE
  // naming how many and the last journal error.
  absl::Status JournalHealth() const;
  // OK unless the journal is shared and this replica's lease is not current.
  absl::Status LeaseHealth() const;
  // The replica's lease keeper (shared journal), else nullptr. For tests and health.
  LeaseKeeper* lease_keeper() const { return keeper_.get(); }
  // Worker threads running now (busy or idle). For tests.
  int worker_threads() const;

 private:
  // Replicas (manager_replicas.cc).
  ManagerOptions WithLease(ManagerOptions options);
  // A runtime for `record` (as loading after a restart does), registered in active_; nullptr
  // when its blobs do not parse. Not queued.
  std::shared_ptr<OpRuntime> Load(journal::OperationRecord record);
  void OnClaimed(std::vector<journal::OperationRecord> records);
  void OnCancelsRequested(const std::vector<std::string>& ids);
  size_t FreeSlots() const;
  // Claims `id` when it waits for input and nobody live holds it; the loaded runtime or nullptr.
  std::shared_ptr<OpRuntime> ClaimWaiting(absl::string_view id);
  // Releases a runtime that waits for input (shared journal), so that any replica may supply it.
  void ReleaseIfWaiting(const std::shared_ptr<OpRuntime>& rt);
  // Forgets a runtime another replica runs now, without writing.
  void Drop(const std::shared_ptr<OpRuntime>& rt);
  // Its local watchers follow the change log from here on (ChangeFollower), or end UNAVAILABLE.
  void HandOverWatchers(const std::shared_ptr<OpRuntime>& rt);
  absl::StatusOr<v1::Operation> CancelLoaded(const std::shared_ptr<OpRuntime>& rt);
  // Cancel of an operation not loaded here (shared journal).
  absl::StatusOr<v1::Operation> CancelElsewhere(absl::string_view id);
  absl::StatusOr<v1::Operation> SupplyTo(const std::shared_ptr<OpRuntime>& rt, absl::string_view id,
                                         absl::string_view request_id, std::vector<cloudapi::EnvVar> values);

  void WorkerLoop(uint64_t self);
  // Starts a worker for each queued operation no idle worker will take (up to `workers`).
  void StartWorkersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The threads of workers that ended (idle), taken for joining outside mu_.
  std::vector<std::thread> TakeEndedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunOne(const std::shared_ptr<OpRuntime>& rt);
  // Runs the operation's flow; fails the operation when the flow failed (unless it paused,
  // waits, stops or was cancelled). IsJournalUnavailable when it must pause.
  absl::Status RunFlow(OpContext& ctx, OpRuntime& rt);
  // Pauses an operation whose journal write failed (it stays `queued_`, out of the queue).
  void Park(const std::shared_ptr<OpRuntime>& rt, const absl::Status& cause);
  // While operations are parked: probes the journal with back-off, requeues them when it works.
  void JournalProbeLoop();
  void Enqueue(const std::shared_ptr<OpRuntime>& rt);
  void Retire(const std::shared_ptr<OpRuntime>& rt);
  std::shared_ptr<OpRuntime> Find(absl::string_view id) const;
  absl::StatusOr<v1::Operation> SameRequest(const journal::OperationRecord& existing, Submission& submission);

  journal::Journal& journal_;
  const FlowDeps& deps_;
  const FlowRegistry flows_;
  const ManagerOptions options_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<OpRuntime>, std::less<>> active_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<OpRuntime>> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<OpRuntime>> parked_ ABSL_GUARDED_BY(mu_);  // paused on the journal
  absl::Status journal_error_ ABSL_GUARDED_BY(mu_);                      // the last write failure that parked one
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int running_workers_ ABSL_GUARDED_BY(mu_) = 0;  // worker threads that have not ended
  int idle_workers_ ABSL_GUARDED_BY(mu_) = 0;     // of those, waiting for work
  uint64_t next_worker_ ABSL_GUARDED_BY(mu_) = 0;
  // Every worker thread not joined yet, by number; `ended_workers_` have ended (idle) and wait
  // for the next Enqueue or Shutdown to join them.
  std::map<uint64_t, std::thread> workers_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> ended_workers_ ABSL_GUARDED_BY(mu_);
  std::thread journal_prober_;
  std::unique_ptr<LeaseKeeper> keeper_;  // shared journal only
};

}  // namespace orchestrator::engine

#endif  // ONCHAIN_KMS_ORCHESTRATOR_ENGINE_MANAGER_H_
