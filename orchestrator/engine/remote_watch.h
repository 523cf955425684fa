// Watch on a replica that does not run the operation (docs/design/postgres-replicas.md § 4.7):
// one ChangeFollower per replica follows, for its watchers, the change log a shared journal keeps
// (journal/change_feed.h). It waits for the journal's change notices on one connection and reads
// the log of a followed operation from the last version its watchers got: at a notice, every
// `poll_interval` whatever came (a notice is lost while the connection is down), and at once for
// every followed operation after the connection came back. The events are rebuilt from the log
// with journaled_events.h, so a watcher here gets exactly what the owner's watchers get, in
// version order, each once; the stream ends OK after the terminal change, as on the owner.
//
// Watchers are called from the follower's thread only, without its lock (WatchSink's contract).
// It also prunes the log of operations finished longer than `change_log_retention` ago, every
// `prune_interval` (idempotent: every replica may do it).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_ENGINE_REMOTE_WATCH_H_
#define ONCHAIN_KMS_ORCHESTRATOR_ENGINE_REMOTE_WATCH_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "orchestrator/engine/op_context.h"
#include "orchestrator/journal/change_feed.h"
#include "orchestrator/journal/journal.h"

namespace orchestrator::engine {

struct ChangeFollowerOptions {
  absl::Duration poll_interval = absl::Seconds(2);
  // How soon a new watcher or Stop is noticed while waiting for notices.
  absl::Duration wake_interval = absl::Milliseconds(100);
  // Pause after the connection failed, before the next attempt.
  absl::Duration reconnect_backoff = absl::Milliseconds(500);
  absl::Duration change_log_retention = absl::Hours(24);
  absl::Duration prune_interval = absl::Hours(1);
  int batch = 256;  // log entries per read
};

class ChangeFollower {
 public:
  explicit ChangeFollower(std::unique_ptr<journal::ChangeFeed> feed, ChangeFollowerOptions options = {});
  ~ChangeFollower();
  ChangeFollower(const ChangeFollower&) = delete;
  ChangeFollower& operator=(const ChangeFollower&) = delete;

  void Start();
  // Ends every followed stream with UNAVAILABLE ("watch again"); Watch/Follow afterwards do too.
  void Stop();

  // OperationManager::Watch for an operation this replica does not run: the SNAPSHOT from the
  // journal's record, then the changes after it (only the snapshot, then OK, when it is
  // finished). NOT_FOUND when unknown; the journal's error when it cannot be read.
  absl::Status Watch(journal::Journal& journal, absl::string_view id, std::shared_ptr<WatchSink> sink);
  // Delivers the changes of `id` after `version` to `sink` (no snapshot): e.g. a local watcher
  // handed over when the operation leaves this replica.
  void Follow(absl::string_view id, int64_t version, std::shared_ptr<WatchSink> sink);
  // After it, `sink` gets at most the event being delivered.
  void Unfollow(absl::string_view id, const WatchSink* sink);

  // Watchers followed now (for tests and metrics).
  size_t watchers() const;

 private:
  struct Watcher {
    std::shared_ptr<WatchSink> sink;
    int64_t version = 0;  // the last version it got (or its snapshot's)
  };

  void Loop();
  // Reads and delivers the log of `id` up to now. UNAVAILABLE (or another read error): try later.
  absl::Status CatchUp(const std::string& id);
  // Pushes `events` of the change to `version` to the watchers of `id` below it.
  void Deliver(const std::string& id, int64_t version, std::vector<v1::OperationEvent> events);
  // Every watcher of `id` has got everything up to `version`; closes them all OK if `terminal`.
  void Reached(const std::string& id, int64_t version, bool terminal);
  // Ends the watchers of `id` with `status` and forgets them.
  void CloseAll(const std::string& id, const absl::Status& status);
  // The ids to read now: every followed one, or those marked since the last call.
  std::set<std::string> Due(bool all);
  void MarkDue(const std::vector<journal::ChangeNotice>& notices);
  void Prune();
  bool SleepUnlessStopping(absl::Duration d);

  const std::unique_ptr<journal::ChangeFeed> feed_;  // the loop's thread only
  const ChangeFollowerOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::vector<Watcher>, std::less<>> followed_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> due_ ABSL_GUARDED_BY(mu_);  // to read at the next turn
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread loop_;
};

}  // namespace orchestrator::engine

#endif  // ONCHAIN_KMS_ORCHESTRATOR_ENGINE_REMOTE_WATCH_H_
