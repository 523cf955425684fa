// The journal on PostgreSQL 15 (through //platform/postgres), for orchestrators that keep their
// state in a managed database instead of a local file (issue [G], docs/design/postgres-replicas.md
// § 3). Several replicas share one database (§ 4): Register writes this process's row in
// `replicas` (replica id, boot id, `expires` on the database clock), Heartbeat moves `expires`
// on, Claim / ClaimOne / ReclaimOwn take operations over with short
// `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)` statements that add one to
// `lease_epoch`. After Register every Update carries `owner = me AND lease_epoch = epoch AND my
// replica row is live` in its WHERE, and PutArtifact takes a share lock on the operation row
// under the same condition in the same statement, so a claim and a stale write are strictly
// ordered: one of them fails (LeaseLost). The journal remembers the epoch of every operation it
// holds for PutArtifact (which names only the operation). Without Register (tests of the journal
// alone) writes are not fenced. OperationRecord.lease_expires is not stored per operation (a
// lease belongs to a replica row) and reads as the Unix epoch.
// An Update with events also writes them to operation_changes in the same statement, and every
// write notifies (schema v2): the change log other replicas' Watch follows
// (postgres_change_feed.h). (A write whose answer was lost, did commit, and was then replaced by
// a different one keeps its log entry: a follower may show its events although the owner's own
// watchers never got them.)
//
// Every write is one autocommit statement, so it is atomic on its own. A write whose answer was
// lost (the connection died after the server got it) is reported UNAVAILABLE like one that never
// arrived, and the caller may go on as journal.h says: Create finds its own id under the
// (caller, request_id) and reports it created; a repeated Update finds its own content one version
// up and returns that version, and a different Update from the same version (the caller kept the
// state from before the lost write) is written over it; PutArtifact replaces. Calls run on a
// small pool of connections that reconnect after a server restart (the first call after it may
// fail UNAVAILABLE).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_POSTGRES_JOURNAL_H_
#define ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_POSTGRES_JOURNAL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "orchestrator/journal/journal.h"
#include "platform/postgres/dsn.h"
#include "platform/postgres/param.h"
#include "platform/postgres/pool.h"

namespace orchestrator::journal {

struct PostgresJournalOptions {
  int pool_size = 8;
  // How long a call waits for a free connection before it fails UNAVAILABLE.
  absl::Duration acquire_timeout = absl::Seconds(10);
};

class PostgresJournal final : public Journal {
 public:
  // The name under which platform_schema_versions keeps this schema's version.
  static constexpr absl::string_view kSchemaName = "orchestrator_journal";

  // Connects (UNAUTHENTICATED for a refused password, UNAVAILABLE for no server,
  // FAILED_PRECONDITION for a missing database) and applies the schema migrations; a database
  // whose schema is newer than this program is FAILED_PRECONDITION and nothing is written.
  // Messages name the server (host, port, dbname, user), never the password.
  static absl::StatusOr<std::unique_ptr<PostgresJournal>> Open(const platform::postgres::Dsn& dsn,
                                                               const PostgresJournalOptions& options = {});
  PostgresJournal(const PostgresJournal&) = delete;
  PostgresJournal& operator=(const PostgresJournal&) = delete;

  absl::StatusOr<CreateResult> Create(const OperationRecord& record) override;
  absl::StatusOr<OperationRecord> Get(absl::string_view id) override;
  absl::StatusOr<std::optional<OperationRecord>> FindByRequestId(absl::string_view caller,
                                                                 absl::string_view request_id) override;
  absl::StatusOr<int64_t> Update(const OperationRecord& record, const UpdateOptions& options = {}) override;
  absl::StatusOr<std::vector<OperationRecord>> List(const ListQuery& query) override;
  absl::StatusOr<std::vector<OperationRecord>> ListUnfinished() override;
  absl::Status PutArtifact(absl::string_view operation_id, absl::string_view key, absl::string_view value) override;
  absl::StatusOr<std::optional<std::string>> GetArtifact(absl::string_view operation_id,
                                                         absl::string_view key) override;
  absl::StatusOr<std::map<std::string, std::string>> ListArtifacts(absl::string_view operation_id,
                                                                   absl::string_view prefix) override;
  // A read on the server that also tells a read-only standby from a primary.
  absl::Status Ping() override;
  // postgres_resource_owners.cc; each call is one statement.
  absl::Status RecordOwner(const ResourceOwner& owner) override;
  absl::StatusOr<std::optional<ResourceOwner>> FindOwner(absl::string_view kind, absl::string_view resource) override;
  absl::StatusOr<AdoptResult> AdoptResource(const ResourceOwner& owner) override;

  bool shared() const override { return true; }
  absl::Status Register(const ReplicaLease& lease) override;
  absl::Status Heartbeat() override;
  absl::StatusOr<std::vector<OperationRecord>> ReclaimOwn() override;
  absl::StatusOr<std::vector<OperationRecord>> Claim(size_t max) override;
  absl::StatusOr<std::optional<OperationRecord>> ClaimOne(absl::string_view id, std::vector<int> states) override;
  absl::Status Release(const OperationRecord& held) override;
  absl::Status ReleaseAll() override;
  absl::StatusOr<bool> RequestCancel(absl::string_view id) override;
  absl::StatusOr<std::vector<std::string>> CancelsRequested() override;
  // The fence of operation `id` for a write outside the journal: nullopt when not registered
  // (writes unfenced), LeaseLost when this replica does not hold it.
  absl::StatusOr<std::optional<OperationFence>> FenceFor(absl::string_view id) const;

  // "postgres host=... port=... dbname=... user=...", for logs; never the password.
  const std::string& description() const { return description_; }

 private:
  PostgresJournal(std::unique_ptr<platform::postgres::Pool> pool, std::string description,
                  const PostgresJournalOptions& options)
      : pool_(std::move(pool)), description_(std::move(description)), options_(options) {}
  // Runs one statement on a pooled connection; errors prefixed "journal: <what>: ".
  absl::StatusOr<platform::postgres::Result> Run(absl::string_view what, absl::string_view sql,
                                                 absl::Span<const platform::postgres::Param> params);
  absl::StatusOr<std::vector<OperationRecord>> Select(absl::string_view what, absl::string_view sql,
                                                      absl::Span<const platform::postgres::Param> params);
  absl::StatusOr<std::optional<OperationRecord>> FindOne(absl::string_view what, absl::string_view where,
                                                         absl::Span<const platform::postgres::Param> params);
  // `write` (an Update from write.version, or a Create) failed UNAVAILABLE: it may have committed.
  void Remember(const OperationRecord& write, bool create);
  // Update's answer when the UPDATE matched no row.
  absl::StatusOr<int64_t> UpdateMissed(const OperationRecord& record, const UpdateOptions& options);
  // What was remembered for `id` (a Create with version 0), and forgets it.
  std::vector<OperationRecord> Forget(absl::string_view id);
  // The registered lease (empty replica_id: not registered, writes not fenced).
  ReplicaLease Me() const;
  // Claimed records become held (their epochs kept for PutArtifact).
  std::vector<OperationRecord> Hold(std::vector<OperationRecord> records);
  // Why a fenced Update matched no row, given the stored row: LeaseLost, CancelRequested or none.
  absl::Status FenceRefusal(const OperationRecord& stored, const OperationRecord& write);

  const std::unique_ptr<platform::postgres::Pool> pool_;
  const std::string description_;
  const PostgresJournalOptions options_;
  mutable absl::Mutex mu_;
  // Writes that failed UNAVAILABLE and may have committed, by operation id. A repeat that finds
  // exactly that write done is a success; a different write from the same version replaces it.
  absl::flat_hash_map<std::string, std::vector<OperationRecord>> uncertain_ ABSL_GUARDED_BY(mu_);
  ReplicaLease me_ ABSL_GUARDED_BY(mu_);
  // Operations this replica holds: id -> lease_epoch.
  absl::flat_hash_map<std::string, int64_t> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace orchestrator::journal

#endif  // ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_POSTGRES_JOURNAL_H_
