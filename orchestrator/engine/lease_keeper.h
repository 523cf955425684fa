// The lease of one orchestrator replica on a shared journal (docs/design/postgres-replicas.md
// § 4.2-4.3): registers the replica, renews its lease by a heartbeat, claims operations nobody
// live owns, hands the owner's share of requested cancels over, and releases everything on a
// clean shutdown.
//
// Self-fencing: the lease is "current" while the start of the last successful heartbeat is less
// than ttl - heartbeat_interval ago (local monotonic clock). The database sets `expires` after
// that moment, so a replica stops starting steps before any other replica can claim its
// operations; writes that are still under way are fenced by the journal itself.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_ENGINE_LEASE_KEEPER_H_
#define ONCHAIN_KMS_ORCHESTRATOR_ENGINE_LEASE_KEEPER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "orchestrator/journal/journal.h"

namespace orchestrator::engine {

struct LeaseOptions {
  absl::Duration ttl = absl::Seconds(15);
  absl::Duration heartbeat_interval = absl::Seconds(5);  // at most ttl / 3
  absl::Duration claim_interval = absl::Seconds(2);
};

// INVALID_ARGUMENT naming the rule when the timings do not fit together.
absl::Status ValidateLeaseOptions(const LeaseOptions& options);

class LeaseKeeper {
 public:
  struct Callbacks {
    std::function<size_t()> free_slots;  // how many more operations this replica may run now
    std::function<void(std::vector<journal::OperationRecord>)> claimed;
    std::function<void(const std::vector<std::string>&)> cancels_requested;  // ids this replica owns
  };

  LeaseKeeper(journal::Journal& journal, std::string replica_id, LeaseOptions options, Callbacks callbacks);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Registers the replica with a new boot id. While another live process holds the id, retries
  // for up to ttl + heartbeat_interval (a container restarted before its old lease ran out), then
  // ALREADY_EXISTS.
  absl::Status Register();
  // Starts the heartbeat and claim threads.
  void Start();
  // Stops claiming (the heartbeat goes on, so that running steps can still write).
  void StopClaims();
  // Stops both threads; with `release`, gives every operation up and ends the lease.
  void Stop(bool release);

  // OK while the lease is current (see the file comment); UNAVAILABLE naming why otherwise.
  absl::Status Current() const;
  const std::string& replica_id() const { return replica_id_; }
  const std::string& boot_id() const { return boot_id_; }

  // Test hook: no heartbeats while paused, as if the process hung; the lease then runs out.
  void PauseHeartbeatsForTest(bool paused) { heartbeats_stopped_.store(paused); }

 private:
  using Clock = std::chrono::steady_clock;
  void HeartbeatLoop();
  void ClaimLoop();
  void ClaimOnce();

  journal::Journal& journal_;
  const std::string replica_id_;
  const std::string boot_id_;
  const LeaseOptions options_;
  const Callbacks callbacks_;

  mutable absl::Mutex mu_;
  Clock::time_point last_ok_start_ ABSL_GUARDED_BY(mu_);
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  bool replaced_ ABSL_GUARDED_BY(mu_) = false;  // another process registered our id
  std::atomic<bool> heartbeats_stopped_{false};
  absl::Notification stop_claims_;
  absl::Notification stop_;
  std::thread heartbeat_thread_;
  std::thread claim_thread_;
};

}  // namespace orchestrator::engine

#endif  // ONCHAIN_KMS_ORCHESTRATOR_ENGINE_LEASE_KEEPER_H_
