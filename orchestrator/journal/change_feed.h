// The change log of a journal shared by several replicas: what another replica's Watch follows
// (docs/design/postgres-replicas.md § 4.7). Every Update that carries events stores them
// (UpdateOptions.events) with the operation after the change, keyed by the version the change
// produced, in the same transaction as the record; each write of an operation announces
// (operation id, version, state) on a notification channel. A follower waits for those notices
// and reads the log from the last version it delivered, so a lost notice only delays it until
// its next read.
//
// A ChangeFeed is used by one thread at a time (it owns one listening connection).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_CHANGE_FEED_H_
#define ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_CHANGE_FEED_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace orchestrator::journal {

// "Operation `operation_id` is now at `version`, in `state`" (no content: read the log).
struct ChangeNotice {
  std::string operation_id;
  int64_t version = 0;
  int state = 0;
};

// One journaled change.
struct OperationChange {
  int64_t version = 0;    // the record's version after it
  std::string events;     // serialized orchestrator.state.v1.JournaledEvents (never empty)
  std::string operation;  // serialized v1::Operation after it
};

// The log of one operation after some version, read in one snapshot with the record's current
// version and state: once every change up to `version` is delivered and `state` is terminal, no
// more will come. A version with no entry is a write without events (skip it).
struct ChangeBatch {
  std::vector<OperationChange> changes;  // ascending versions, at most the limit asked for
  int64_t version = 0;                   // the record's version
  int state = 0;                         // and state (v1::OperationState number)
};

class ChangeFeed {
 public:
  virtual ~ChangeFeed() = default;

  // The notices that arrive before `deadline` (empty if none; returns at the first one, with
  // whatever else is queued). UNAVAILABLE when the connection to the server was lost: notices
  // sent meanwhile are gone, so the caller reads the log again once a Wait succeeds (the next
  // Wait reconnects).
  virtual absl::StatusOr<std::vector<ChangeNotice>> Wait(absl::Time deadline) = 0;
  // The changes of `operation_id` with a version above `after_version`, at most `limit`.
  // NOT_FOUND for an unknown operation.
  virtual absl::StatusOr<ChangeBatch> ChangesSince(absl::string_view operation_id, int64_t after_version,
                                                   int limit) = 0;
  // Retention: deletes the log of operations that finished (terminal state) before
  // `finished_before`; returns how many entries went. A Watch of a finished operation needs only
  // its record.
  virtual absl::StatusOr<int64_t> PruneFinished(absl::Time finished_before) = 0;
};

}  // namespace orchestrator::journal

#endif  // ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_CHANGE_FEED_H_
