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
//
// Several replicas (a shared journal, PostgreSQL; docs/design/postgres-replicas.md § 4): each
// process registers as a replica with a lease it renews by heartbeats; an operation is run by
// the replica named in its `owner`, and every claim of it adds one to its `lease_epoch` (the
// fencing token). Once registered, Update and PutArtifact are FENCED: they succeed only while
// the operation's owner and epoch are still the caller's and the caller's replica lease is live;
// otherwise they write nothing: FAILED_PRECONDITION "lease lost" (IsLeaseLost) when another
// replica has taken the operation over (owner or epoch moved; the caller must stop it locally
// without writing it again), UNAVAILABLE when the caller's lease merely ran out and nobody took
// the operation yet (retry once a heartbeat renewed it). A non-shared journal (SQLite: one process owns everything)
// implements these calls trivially (the defaults below).
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
#include "orchestrator/journal/resource_owner.h"

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
  // The fencing token: +1 on every claim (shared journals; 0 otherwise). Update is fenced on the
  // (owner, lease_epoch) the writer read.
  int64_t lease_epoch = 0;
  // Mirror of FlowState.irreversible, written by Update: a cancel is refused from then on.
  bool irreversible = false;
  // CancelOperation was taken by a replica that does not run it (RequestCancel); read-only here.
  bool cancel_requested = false;
};

// The fencing token of an operation a replica holds, for writes the journal does not make itself
// (a nonce reservation): they carry the same "owner, epoch, live lease" condition.
struct OperationFence {
  std::string replica_id;
  std::string boot_id;
  int64_t lease_epoch = 0;
};

// Who a shared journal writes as (Register).
struct ReplicaLease {
  std::string replica_id;                  // stable name of the replica (config journal.postgres.replica_id)
  std::string boot_id;                     // random per process start: tells two processes with one id apart
  absl::Duration ttl = absl::Seconds(15);  // each heartbeat extends the lease this far
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
  // Only operations whose caller is one of these (a tenant's members); nullopt: every caller.
  std::optional<std::vector<std::string>> callers;
  size_t limit = 50;
  std::optional<ListCursor> after;  // strictly older than this
};

// One artifact to put (Journal::PutArtifacts).
struct Artifact {
  std::string operation_id;
  std::string key;
  std::string value;
};

// What goes with one Update besides the record: written in the same transaction, only if the
// update is (same version, same fence), so a step's record, its artifacts and the owner rows of
// what it created are durable together, in one write instead of one each.
struct UpdateOptions {
  // The watch events of this change (a serialized orchestrator.state.v1.JournaledEvents; empty
  // when the change has none). A journal shared by several replicas (PostgreSQL) stores them with
  // the record in the same transaction, for Watch on the other replicas (change_feed.h); SQLite
  // (one process) ignores them.
  std::string events;
  // Put as PutArtifacts would (replacing); each for this record's operation (CheckUpdateOptions).
  std::vector<Artifact> artifacts;
  // Recorded unless their (kind, resource) has an owner already, whoever it is: no refusal here
  // (the caller checked with FindOwner before; a resource adopted between that read and this
  // write keeps the adopter, as if the adopt had come right after this write).
  std::vector<ResourceOwner> owners;
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
  // return, together with `options` (its events where the journal keeps them); on any error none
  // of it was written.
  virtual absl::StatusOr<int64_t> Update(const OperationRecord& record, const UpdateOptions& options = {}) = 0;
  // Newest first, filtered.
  virtual absl::StatusOr<std::vector<OperationRecord>> List(const ListQuery& query) = 0;
  // Every operation whose state is not terminal (PENDING, RUNNING, WAITING_FOR_INPUT), oldest
  // first: what a restart resumes.
  virtual absl::StatusOr<std::vector<OperationRecord>> ListUnfinished() = 0;

  // Artifacts. Put replaces; durable on return.
  virtual absl::Status PutArtifact(absl::string_view operation_id, absl::string_view key, absl::string_view value) = 0;
  // PutArtifact of each, in one write where the backend can (SQLite: one statement, all or
  // none). This default puts them one by one and stops at the first error.
  virtual absl::Status PutArtifacts(const std::vector<Artifact>& artifacts) {
    for (const Artifact& a : artifacts) {
      if (absl::Status s = PutArtifact(a.operation_id, a.key, a.value); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  virtual absl::StatusOr<std::optional<std::string>> GetArtifact(absl::string_view operation_id,
                                                                 absl::string_view key) = 0;
  // Every artifact of the operation whose key starts with `prefix`, by key.
  virtual absl::StatusOr<std::map<std::string, std::string>> ListArtifacts(absl::string_view operation_id,
                                                                           absl::string_view prefix) = 0;

  // OK when the journal can be read and written now (for health).
  virtual absl::Status Ping() = 0;

  // --- Owners of CVMs and apps (resource_owner.h). Not fenced: any replica may record them.

  // Records `owner` unless (kind, resource) has one: the same tenant again is OK and changes
  // nothing (a resumed deploy records again); another tenant is ALREADY_EXISTS, nothing changed.
  virtual absl::Status RecordOwner(const ResourceOwner& owner) = 0;
  // RecordOwner of each, in one write where the backend can (SQLite: one transaction, nothing
  // written when one is refused). This default records them one by one, so on ALREADY_EXISTS
  // the ones before may stay recorded (harmless: a retry records them again as a no-op).
  virtual absl::Status RecordOwners(const std::vector<ResourceOwner>& owners) {
    for (const ResourceOwner& o : owners) {
      if (absl::Status s = RecordOwner(o); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  // The owner of (kind, resource), nullopt when nobody owns it.
  virtual absl::StatusOr<std::optional<ResourceOwner>> FindOwner(absl::string_view kind,
                                                                 absl::string_view resource) = 0;
  // An admin's adopt: stores `owner` whoever owned the resource before (one atomic write) and
  // returns the owner it replaced.
  virtual absl::StatusOr<AdoptResult> AdoptResource(const ResourceOwner& owner) = 0;

  // --- Ownership (several replicas). The defaults are those of a journal one process owns.

  // True when several processes may share this journal: operations are then claimed, and writes
  // are fenced once Register succeeded.
  virtual bool shared() const { return false; }
  // Registers this process as `lease.replica_id` with a lease of `lease.ttl`. ALREADY_EXISTS
  // while another live process (another boot id) holds that id. From now on Create stamps the
  // replica as owner and Update / PutArtifact are fenced.
  virtual absl::Status Register(const ReplicaLease& /*lease*/) { return absl::OkStatus(); }
  // Extends the lease by its ttl. LeaseLost when another process registered the replica id.
  virtual absl::Status Heartbeat() { return absl::OkStatus(); }
  // The unfinished operations this replica runs now, after a restart with the same replica id
  // (their epoch is bumped, which fences out the previous process of that id), oldest first.
  virtual absl::StatusOr<std::vector<OperationRecord>> ReclaimOwn() { return ListUnfinished(); }
  // Claims up to `max` runnable (PENDING or RUNNING) operations that nobody owns or whose owner's
  // lease expired, oldest first; replicas claiming at once never get the same one.
  virtual absl::StatusOr<std::vector<OperationRecord>> Claim(size_t /*max*/) { return std::vector<OperationRecord>(); }
  // Claims `id` when its state is one of `states` and no other live replica owns it (bumping the
  // epoch); nullopt when it is in another state or another live replica has it. NOT_FOUND.
  virtual absl::StatusOr<std::optional<OperationRecord>> ClaimOne(absl::string_view id, std::vector<int> states);
  // Gives `held` up (owner = nobody), fenced like Update; e.g. on WAITING_FOR_INPUT, so that any
  // replica can take the SupplyEnvVars.
  virtual absl::Status Release(const OperationRecord& /*held*/) { return absl::OkStatus(); }
  // Clean shutdown: gives up every operation this replica owns and ends its lease.
  virtual absl::Status ReleaseAll() { return absl::OkStatus(); }
  // A CancelOperation taken by a replica that may not own `id`: stores cancel_requested; true
  // when the operation is open and not irreversible (from then on the owner cancels it and an
  // Update that sets `irreversible` is refused with IsCancelRequested), false otherwise.
  virtual absl::StatusOr<bool> RequestCancel(absl::string_view id);
  // The operations this replica owns whose cancel another replica requested.
  virtual absl::StatusOr<std::vector<std::string>> CancelsRequested() { return std::vector<std::string>(); }
};

// Terminal states (SUCCEEDED=4, FAILED=5, CANCELLED=6 in v1::OperationState).
bool IsTerminalState(int state);

// INVALID_ARGUMENT naming it when an artifact of `options` is for another operation than `record`'s.
absl::Status CheckUpdateOptions(const OperationRecord& record, const UpdateOptions& options);

// FAILED_PRECONDITION "lease lost: ..." from a fenced write: another replica owns the operation
// now (or this replica's lease expired). Nothing was written.
absl::Status LeaseLostError(absl::string_view detail);
bool IsLeaseLost(const absl::Status& s);
// FAILED_PRECONDITION from an Update that would set `irreversible` after a cancel was requested.
absl::Status CancelRequestedError(absl::string_view id);
bool IsCancelRequested(const absl::Status& s);

}  // namespace orchestrator::journal

#endif  // ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_JOURNAL_H_
