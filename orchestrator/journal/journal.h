// The operation journal: the durable record every flow step is written to before and after its
// side effect, so that a restart (also after kill -9) resumes each operation where it stopped.
//
// The interface is backend-neutral on purpose: plain values and opaque byte blobs, optimistic
// concurrency through a version number, and an `owner` + lease on each record, so that a
// PostgreSQL backend can serve several orchestrator replicas (a replica claims an operation by
// an Update that sets owner/lease_expires; losing the race is ABORTED) without changing callers.
// SqliteJournal (sqlite_journal.h) is the embedded default for one process; PostgresJournal
// (postgres_journal.h) keeps the same records in a PostgreSQL database.
//
// Two kinds of data:
//   - The operation record: its public view (a serialized onchainkms.orchestrator.v1.Operation),
//     its private state (a serialized orchestrator.state.v1.FlowState: the request without env
//     values, what each step learned), and the columns needed to find it again.
//   - Artifacts: small values keyed by (operation, key) and written independently of the record,
//     e.g. the signed raw transactions of a step, which the chain layer hands over from whatever
//     thread signed them (a fee bump may be signed on another operation's thread).
// Plaintext env var values are never given to the journal.
//
// Errors: UNAVAILABLE from any call means the journal cannot be reached or written right now
// (busy, I/O error, disk full, a database outage) and the call had no effect: the same call may
// be made again later. (A PostgreSQL write whose answer was lost may have taken effect; the
// journal then makes a repeat, or the caller's next write from the same version, behave as if it
// had not.) The engine pauses an
// operation whose write failed so and resumes it when a write works again
// (engine/status_marks.h IsJournalUnavailable). Other codes are final for that call (ABORTED:
// the version moved; NOT_FOUND; INTERNAL: e.g. a corrupt file).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_JOURNAL_H_
#define ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_JOURNAL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace orchestrator::journal {

// One operation as the journal keeps it.
struct OperationRecord {
  std::string id;          // "op_..."
  std::string caller;      // identity of the creator; (caller, request_id) is unique
  std::string request_id;  // the client's idempotency key
  int kind = 0;            // v1::OperationKind number
  int state = 0;           // v1::OperationState number
  std::string cvm_id;      // v1::Operation.cvm_id, for ListOperations' filter
  absl::Time create_time = absl::UnixEpoch();
  absl::Time update_time = absl::UnixEpoch();
  std::string request_digest;  // canonical digest of the request (see service/request_digest.h)
  std::string operation;       // serialized v1::Operation
  std::string internal;        // serialized orchestrator.state.v1.FlowState
  // Optimistic concurrency: Create stores 1; Update succeeds only if `version` equals the stored
  // value and then stores version + 1.
  int64_t version = 0;
  // Which process runs it and until when (a replica whose lease ran out may be replaced).
  std::string owner;
  absl::Time lease_expires = absl::UnixEpoch();
};

// A position in the newest-first order (create_time desc, id desc).
struct ListCursor {
  absl::Time create_time;
  std::string id;
};

// ListOperations: filters (0 / empty = any) and paging.
struct ListQuery {
  int kind = 0;
  int state = 0;
  std::string cvm_id;
  size_t limit = 50;
  std::optional<ListCursor> after;  // strictly older than this
};

// What goes with one Update besides the record.
struct UpdateOptions {
  // The watch events of this change (a serialized orchestrator.state.v1.JournaledEvents; empty
  // when the change has none). A journal shared by several replicas (PostgreSQL) stores them with
  // the record in the same transaction, for Watch on the other replicas (change_feed.h); SQLite
  // (one process) ignores them.
  std::string events;
};

struct CreateResult {
  OperationRecord record;  // the stored one: ours, or the existing one
  bool created = false;    // false: (caller, request_id) existed already
};

class Journal {
 public:
  virtual ~Journal() = default;

  // Stores a new operation, unless one with the same (caller, request_id) exists: then that one
  // is returned with created = false and nothing is written. ALREADY_EXISTS if the id is taken.
  virtual absl::StatusOr<CreateResult> Create(const OperationRecord& record) = 0;
  // NOT_FOUND when absent.
  virtual absl::StatusOr<OperationRecord> Get(absl::string_view id) = 0;
  virtual absl::StatusOr<std::optional<OperationRecord>> FindByRequestId(absl::string_view caller,
                                                                         absl::string_view request_id) = 0;
  // Replaces the record `record.id` if its stored version equals `record.version`; returns the new
  // version. ABORTED when the version moved (another writer), NOT_FOUND when absent. Durable on
  // return, together with `options.events` where the journal keeps them.
  virtual absl::StatusOr<int64_t> Update(const OperationRecord& record, const UpdateOptions& options = {}) = 0;
  // Newest first, filtered.
  virtual absl::StatusOr<std::vector<OperationRecord>> List(const ListQuery& query) = 0;
  // Every operation whose state is not terminal (PENDING, RUNNING, WAITING_FOR_INPUT), oldest
  // first: what a restart resumes.
  virtual absl::StatusOr<std::vector<OperationRecord>> ListUnfinished() = 0;

  // Artifacts. Put replaces; durable on return.
  virtual absl::Status PutArtifact(absl::string_view operation_id, absl::string_view key, absl::string_view value) = 0;
  virtual absl::StatusOr<std::optional<std::string>> GetArtifact(absl::string_view operation_id,
                                                                 absl::string_view key) = 0;
  // Every artifact of the operation whose key starts with `prefix`, by key.
  virtual absl::StatusOr<std::map<std::string, std::string>> ListArtifacts(absl::string_view operation_id,
                                                                           absl::string_view prefix) = 0;

  // OK when the journal can be read and written now (for health).
  virtual absl::Status Ping() = 0;
};

// Terminal states (SUCCEEDED=4, FAILED=5, CANCELLED=6 in v1::OperationState).
bool IsTerminalState(int state);

}  // namespace orchestrator::journal

#endif  // ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_JOURNAL_H_
