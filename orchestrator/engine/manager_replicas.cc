// OperationManager on a shared journal: several replicas (manager.h, design
// docs/design/postgres-replicas.md § 4). Everything here runs only when journal.shared().
#include <utility>

#include "absl/strings/str_cat.h"
#include "orchestrator/engine/manager.h"
#include "orchestrator/engine/remote_watch.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace orchestrator::engine {
namespace {

// How long a Cancel taken by a replica that does not run the operation waits for its owner.
constexpr absl::Duration kCancelWait = absl::Seconds(5);

}  // namespace

ManagerOptions OperationManager::WithLease(ManagerOptions options) {
  options.run.lease_current = [this] { return LeaseHealth(); };
  return options;
}

absl::Status OperationManager::LeaseHealth() const {
  return keeper_ == nullptr ? absl::OkStatus() : keeper_->Current();
}

size_t OperationManager::FreeSlots() const {
  absl::MutexLock l(&mu_);
  if (!started_ || stopping_) return 0;
  const size_t workers = static_cast<size_t>(std::max(1, options_.workers));
  return active_.size() >= workers ? 0 : workers - active_.size();
}

void OperationManager::OnClaimed(std::vector<journal::OperationRecord> records) {
  for (journal::OperationRecord& r : records) {
    const bool cancel = r.cancel_requested;
    std::shared_ptr<OpRuntime> rt = Load(std::move(r));
    if (rt == nullptr) continue;
    platform::log::Info("took the operation over", {{"op", rt->id()}, {"replica", options_.owner_id}});
    // Cancelled on another replica while nobody ran it: cancel it before anything runs.
    if (!cancel || !CancelLoaded(rt).ok()) Enqueue(rt);
  }
}

void OperationManager::OnCancelsRequested(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    std::shared_ptr<OpRuntime> rt = Find(id);
    if (rt == nullptr) continue;
    absl::StatusOr<v1::Operation> op = CancelLoaded(rt);
    platform::log::Info("cancel requested on another replica",
                        {{"op", id}, {"result", op.ok() ? "cancelled" : std::string(op.status().message())}});
  }
}

std::shared_ptr<OpRuntime> OperationManager::ClaimWaiting(absl::string_view id) {
  absl::StatusOr<std::optional<journal::OperationRecord>> claimed =
      journal_.ClaimOne(id, {v1::OPERATION_STATE_WAITING_FOR_INPUT});
  if (!claimed.ok() || !claimed->has_value()) return nullptr;
  return Load(**std::move(claimed));
}

void OperationManager::ReleaseIfWaiting(const std::shared_ptr<OpRuntime>& rt) {
  {
    OpRuntime::PublishingLock l(*rt);
    // Queued: its worker calls this when it is done.
    if (rt->queued_ || rt->op_.state() != v1::OPERATION_STATE_WAITING_FOR_INPUT || rt->lease_lost_.load()) return;
    if (absl::Status s = journal_.Release(rt->record_); !s.ok() && !journal::IsLeaseLost(s)) {
      platform::log::Warn("could not release an operation waiting for input; it is released when the lease ends",
                          {{"op", rt->id()}, {"error", std::string(s.message())}});
    }
    rt->lease_lost_.store(true);  // not ours any more
  }
  platform::log::Info("operation released while it waits for input", {{"op", rt->id()}});
  HandOverWatchers(rt);
  Retire(rt);
}

void OperationManager::Drop(const std::shared_ptr<OpRuntime>& rt) {
  platform::log::Warn("lease lost: another replica runs the operation now; dropped here", {{"op", rt->id()}});
  {
    absl::MutexLock l(&rt->mu_);
    rt->queued_ = false;
  }
  HandOverWatchers(rt);
  Retire(rt);
}

void OperationManager::HandOverWatchers(const std::shared_ptr<OpRuntime>& rt) {
  std::vector<std::shared_ptr<WatchSink>> watchers;
  int64_t version = 0;
  {
    OpRuntime::PublishingLock l(*rt);
    if (options_.remote_watch == nullptr) {
      rt->CloseWatchersLocked(absl::UnavailableError("the operation moved to another replica; watch again"));
      return;
    }
    watchers.swap(rt->watchers_);
    version = rt->record_.version;  // what they got: every change up to it
  }
  // They go on from the change log, whichever replica runs the operation next.
  for (std::shared_ptr<WatchSink>& w : watchers) options_.remote_watch->Follow(rt->id(), version, std::move(w));
}

absl::StatusOr<v1::Operation> OperationManager::CancelElsewhere(absl::string_view id) {
  ASSIGN_OR_RETURN(const bool requested, journal_.RequestCancel(id));
  if (!requested) {
    ASSIGN_OR_RETURN(v1::Operation op, Get(id));
    if (op.state() == v1::OPERATION_STATE_CANCELLED) return op;
    if (IsTerminal(op.state())) {
      return absl::FailedPreconditionError(
          absl::StrCat("operation ", id, " already ", v1::OperationState_Name(op.state()).substr(16)));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "operation ", id, " cannot be cancelled: an on-chain transaction or a Phala Cloud commit was already sent"));
  }
  // Nobody live runs it (waiting for input, or its replica died): cancel it here.
  absl::StatusOr<std::optional<journal::OperationRecord>> claimed = journal_.ClaimOne(id, {1, 2, 3});
  if (claimed.ok() && claimed->has_value()) {
    std::shared_ptr<OpRuntime> rt = Load(**std::move(claimed));
    if (rt == nullptr) return absl::DataLossError(absl::StrCat("journal: operation ", id, " does not parse"));
    absl::StatusOr<v1::Operation> op = CancelLoaded(rt);
    if (!op.ok()) {
      Enqueue(rt);  // ours now: it runs (or waits for input) here
      if (keeper_ != nullptr) ReleaseIfWaiting(rt);
    }
    return op;
  }
  // Its live owner sees the request within its claim interval (and a step that would make it
  // irreversible is refused meanwhile).
  const absl::Time give_up = absl::Now() + kCancelWait;
  for (;;) {
    ASSIGN_OR_RETURN(v1::Operation op, Get(id));
    if (IsTerminal(op.state()) || absl::Now() >= give_up) return op;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

}  // namespace orchestrator::engine
