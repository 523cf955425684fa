#include "orchestrator/engine/remote_watch.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "orchestrator/engine/journaled_events.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace orchestrator::engine {
namespace {

absl::Status ShuttingDown() { return absl::UnavailableError("the orchestrator is shutting down; watch again"); }

}  // namespace

ChangeFollower::ChangeFollower(std::unique_ptr<journal::ChangeFeed> feed, ChangeFollowerOptions options)
    : feed_(std::move(feed)), options_(options) {}

ChangeFollower::~ChangeFollower() { Stop(); }

void ChangeFollower::Start() {
  absl::MutexLock l(&mu_);
  if (loop_.joinable() || stopping_) return;
  loop_ = std::thread([this] { Loop(); });
}

void ChangeFollower::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (loop_.joinable()) loop_.join();
  std::vector<std::string> ids;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [id, watchers] : followed_) ids.push_back(id);
  }
  for (const std::string& id : ids) CloseAll(id, ShuttingDown());
}

absl::Status ChangeFollower::Watch(journal::Journal& journal, absl::string_view id, std::shared_ptr<WatchSink> sink) {
  ASSIGN_OR_RETURN(const journal::OperationRecord record, journal.Get(id));
  v1::Operation op;
  if (!op.ParseFromString(record.operation)) {
    return absl::DataLossError(absl::StrCat("journal: operation ", id, " does not parse"));
  }
  // Pushed before the sink is followed: nothing else can reach it yet, so it comes first.
  sink->PushOwned(SnapshotEvent(op));
  if (IsTerminal(static_cast<v1::OperationState>(record.state))) {
    sink->Close(absl::OkStatus());
    return absl::OkStatus();
  }
  Follow(id, record.version, std::move(sink));
  return absl::OkStatus();
}

void ChangeFollower::Follow(absl::string_view id, int64_t version, std::shared_ptr<WatchSink> sink) {
  {
    absl::MutexLock l(&mu_);
    if (!stopping_) {
      followed_[std::string(id)].push_back(Watcher{std::move(sink), version});
      due_.insert(std::string(id));  // its changes since that version may all have come already
      return;
    }
  }
  sink->Close(ShuttingDown());
}

void ChangeFollower::Unfollow(absl::string_view id, const WatchSink* sink) {
  absl::MutexLock l(&mu_);
  auto it = followed_.find(id);
  if (it == followed_.end()) return;
  std::vector<Watcher>& w = it->second;
  w.erase(std::remove_if(w.begin(), w.end(), [&](const Watcher& x) { return x.sink.get() == sink; }), w.end());
  if (w.empty()) followed_.erase(it);
}

size_t ChangeFollower::watchers() const {
  absl::MutexLock l(&mu_);
  size_t n = 0;
  for (const auto& [id, w] : followed_) n += w.size();
  return n;
}

void ChangeFollower::Loop() {
  absl::Time next_poll = absl::InfinitePast();
  absl::Time next_prune = absl::Now();
  bool lost = false;  // the connection failed: notices may be gone
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
    }
    const absl::Time now = absl::Now();
    const bool poll = now >= next_poll;
    if (poll) next_poll = now + options_.poll_interval;
    for (const std::string& id : Due(poll)) {
      absl::Status s = CatchUp(id);
      if (s.ok()) continue;
      // Read again at the next turn (after the backoff if the connection is the cause).
      absl::MutexLock l(&mu_);
      if (followed_.count(id) > 0) due_.insert(id);
      lost |= absl::IsUnavailable(s);
    }
    if (now >= next_prune) {
      Prune();
      next_prune = now + options_.prune_interval;
    }
    absl::StatusOr<std::vector<journal::ChangeNotice>> notices =
        feed_->Wait(std::min(next_poll, absl::Now() + options_.wake_interval));
    if (!notices.ok()) {
      if (!lost)
        platform::log::Warn("watch: change notices lost", {{"error", std::string(notices.status().message())}});
      lost = true;
      if (!SleepUnlessStopping(options_.reconnect_backoff)) return;
      continue;
    }
    if (lost) {
      // Connected (and listening) again: read every followed log now.
      platform::log::Info("watch: change notices back; catching up");
      lost = false;
      next_poll = absl::InfinitePast();
    }
    MarkDue(*notices);
  }
}

std::set<std::string> ChangeFollower::Due(bool all) {
  absl::MutexLock l(&mu_);
  std::set<std::string> out;
  out.swap(due_);
  if (all) {
    for (const auto& [id, w] : followed_) out.insert(id);
  }
  return out;
}

void ChangeFollower::MarkDue(const std::vector<journal::ChangeNotice>& notices) {
  absl::MutexLock l(&mu_);
  for (const journal::ChangeNotice& n : notices) {
    auto it = followed_.find(n.operation_id);
    if (it == followed_.end()) continue;
    for (const Watcher& w : it->second) {
      if (w.version < n.version) {
        due_.insert(n.operation_id);
        break;
      }
    }
  }
}

absl::Status ChangeFollower::CatchUp(const std::string& id) {
  for (;;) {
    int64_t from = 0;
    {
      absl::MutexLock l(&mu_);
      auto it = followed_.find(id);
      if (it == followed_.end()) return absl::OkStatus();
      from = it->second.front().version;
      for (const Watcher& w : it->second) from = std::min(from, w.version);
    }
    absl::StatusOr<journal::ChangeBatch> batch = feed_->ChangesSince(id, from, options_.batch);
    if (absl::IsNotFound(batch.status())) {
      CloseAll(id, batch.status());
      return absl::OkStatus();
    }
    if (!batch.ok()) return batch.status();
    for (const journal::OperationChange& c : batch->changes) {
      state::JournaledEvents events;
      v1::Operation op;
      if (!events.ParseFromString(c.events) || !op.ParseFromString(c.operation)) {
        CloseAll(id, absl::DataLossError(absl::StrCat("journal: change ", c.version, " of ", id, " does not parse")));
        return absl::OkStatus();
      }
      Deliver(id, c.version, WatchEvents(events, op));
    }
    if (static_cast<int>(batch->changes.size()) >= options_.batch) continue;  // more to read
    Reached(id, batch->version, IsTerminal(static_cast<v1::OperationState>(batch->state)));
    return absl::OkStatus();
  }
}

void ChangeFollower::Deliver(const std::string& id, int64_t version, std::vector<v1::OperationEvent> events) {
  std::vector<std::shared_ptr<WatchSink>> to;
  {
    absl::MutexLock l(&mu_);
    auto it = followed_.find(id);
    if (it == followed_.end()) return;
    for (Watcher& w : it->second) {
      if (w.version >= version) continue;
      w.version = version;
      to.push_back(w.sink);
    }
  }
  if (to.empty()) return;
  for (v1::OperationEvent& ev : events) {
    for (size_t i = 0; i + 1 < to.size(); ++i) to[i]->Push(ev);
    to.back()->PushOwned(std::move(ev));  // the last one: no copy
  }
}

void ChangeFollower::Reached(const std::string& id, int64_t version, bool terminal) {
  if (terminal) {
    CloseAll(id, absl::OkStatus());
    return;
  }
  absl::MutexLock l(&mu_);
  auto it = followed_.find(id);
  if (it == followed_.end()) return;
  for (Watcher& w : it->second) w.version = std::max(w.version, version);
}

void ChangeFollower::CloseAll(const std::string& id, const absl::Status& status) {
  std::vector<Watcher> closing;
  {
    absl::MutexLock l(&mu_);
    auto it = followed_.find(id);
    if (it == followed_.end()) return;
    closing.swap(it->second);
    followed_.erase(it);
  }
  for (const Watcher& w : closing) w.sink->Close(status);
}

void ChangeFollower::Prune() {
  absl::StatusOr<int64_t> n = feed_->PruneFinished(absl::Now() - options_.change_log_retention);
  if (!n.ok()) {
    platform::log::Warn("watch: pruning the change log failed", {{"error", std::string(n.status().message())}});
  } else if (*n > 0) {
    platform::log::Info("watch: change log pruned", {{"entries", static_cast<int>(*n)}});
  }
}

bool ChangeFollower::SleepUnlessStopping(absl::Duration d) {
  absl::MutexLock l(&mu_);
  auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  return !mu_.AwaitWithTimeout(absl::Condition(&stop), d);
}

}  // namespace orchestrator::engine
