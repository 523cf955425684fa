#include "orchestrator/engine/lease_keeper.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/random.h"
#include "platform/log/log.h"

namespace orchestrator::engine {
namespace {

std::string NewBootId() {
  absl::StatusOr<crypto::Bytes> b = crypto::RandomBytes(16);
  if (!b.ok()) return absl::StrCat(absl::ToUnixNanos(absl::Now()));  // still unique per start
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(b->data()), b->size()));
}

std::chrono::nanoseconds Chrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

}  // namespace

absl::Status ValidateLeaseOptions(const LeaseOptions& o) {
  if (o.ttl <= absl::ZeroDuration()) return absl::InvalidArgumentError("lease_ttl: must be positive");
  if (o.heartbeat_interval <= absl::ZeroDuration() || o.heartbeat_interval * 3 > o.ttl) {
    return absl::InvalidArgumentError("heartbeat_interval: must be positive and at most lease_ttl / 3");
  }
  if (o.claim_interval <= absl::ZeroDuration()) return absl::InvalidArgumentError("claim_interval: must be positive");
  return absl::OkStatus();
}

LeaseKeeper::LeaseKeeper(journal::Journal& journal, std::string replica_id, LeaseOptions options, Callbacks callbacks)
    : journal_(journal),
      replica_id_(std::move(replica_id)),
      boot_id_(NewBootId()),
      options_(options),
      callbacks_(std::move(callbacks)) {}

LeaseKeeper::~LeaseKeeper() { Stop(/*release=*/false); }

absl::Status LeaseKeeper::Register() {
  const Clock::time_point give_up = Clock::now() + Chrono(options_.ttl + options_.heartbeat_interval);
  for (;;) {
    const Clock::time_point start = Clock::now();
    absl::Status s = journal_.Register(journal::ReplicaLease{replica_id_, boot_id_, options_.ttl});
    if (s.ok()) {
      absl::MutexLock l(&mu_);
      last_ok_start_ = start;
      last_error_ = absl::OkStatus();
      return s;
    }
    if (!absl::IsAlreadyExists(s) || Clock::now() >= give_up) return s;
    absl::SleepFor(std::min(options_.heartbeat_interval, absl::Milliseconds(500)));
  }
}

void LeaseKeeper::Start() {
  heartbeat_thread_ = std::thread([this] { HeartbeatLoop(); });
  claim_thread_ = std::thread([this] { ClaimLoop(); });
}

void LeaseKeeper::StopClaims() {
  if (!stop_claims_.HasBeenNotified()) stop_claims_.Notify();
  if (claim_thread_.joinable()) claim_thread_.join();
}

void LeaseKeeper::Stop(bool release) {
  StopClaims();
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  if (!release) return;
  if (absl::Status s = journal_.ReleaseAll(); !s.ok()) {
    // Harmless: the operations are claimable anyway once the lease expires.
    platform::log::Warn("could not release this replica's operations", {{"error", std::string(s.message())}});
  } else {
    platform::log::Info("released this replica's operations", {{"replica", replica_id_}});
  }
}

absl::Status LeaseKeeper::Current() const {
  absl::MutexLock l(&mu_);
  if (replaced_) {
    return absl::UnavailableError(absl::StrCat("replica id ", replica_id_, " was registered by another process"));
  }
  const auto age = Clock::now() - last_ok_start_;
  if (age < Chrono(options_.ttl - options_.heartbeat_interval)) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("the lease of replica ", replica_id_, " is not current (last heartbeat ",
                                             absl::FormatDuration(absl::FromChrono(age)), " ago",
                                             last_error_.ok() ? "" : absl::StrCat("; ", last_error_.message()), ")"));
}

void LeaseKeeper::HeartbeatLoop() {
  while (!stop_.WaitForNotificationWithTimeout(options_.heartbeat_interval)) {
    if (heartbeats_stopped_.load()) continue;
    const Clock::time_point start = Clock::now();
    const absl::Status s = journal_.Heartbeat();
    absl::MutexLock l(&mu_);
    if (s.ok()) {
      last_ok_start_ = start;
      last_error_ = absl::OkStatus();
      continue;
    }
    if (journal::IsLeaseLost(s) && !replaced_) {
      replaced_ = true;
      platform::log::Error("another process registered this replica id; this one stops starting steps",
                           {{"replica", replica_id_}, {"error", std::string(s.message())}});
    } else if (last_error_.ok()) {
      platform::log::Warn("lease heartbeat failed", {{"replica", replica_id_}, {"error", std::string(s.message())}});
    }
    last_error_ = s;
  }
}

void LeaseKeeper::ClaimLoop() {
  while (!stop_claims_.WaitForNotificationWithTimeout(options_.claim_interval)) ClaimOnce();
}

void LeaseKeeper::ClaimOnce() {
  if (!Current().ok()) return;  // a replica that may have lost its lease takes nothing new
  absl::StatusOr<std::vector<std::string>> cancels = journal_.CancelsRequested();
  if (cancels.ok() && !cancels->empty()) callbacks_.cancels_requested(*cancels);
  const size_t free = callbacks_.free_slots();
  if (free == 0) return;
  absl::StatusOr<std::vector<journal::OperationRecord>> claimed = journal_.Claim(free);
  if (!claimed.ok()) {
    platform::log::Warn("claiming operations failed", {{"error", std::string(claimed.status().message())}});
    return;
  }
  if (!claimed->empty()) callbacks_.claimed(*std::move(claimed));
}

}  // namespace orchestrator::engine
