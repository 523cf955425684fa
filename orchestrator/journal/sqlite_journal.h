// The embedded journal: one SQLite file in WAL mode with synchronous=FULL, so every write is on
// disk when the call returns (a step record survives kill -9 and power loss). One process owns
// the file at a time: Open takes platform::sqlite's exclusive lock on "<path>.lock" and fails
// with FAILED_PRECONDITION naming the path if another process holds it (two processes resuming
// the same operations would repeat their effects). Thread-safe; calls are serialized on one
// connection. Writes that arrive together share one transaction (platform/sqlite/group_commit.h:
// one fsync for many operations' writes, each still durable when its call returns); each write
// below changes the database with one statement, except an Update carrying artifacts or owner
// rows (several, in one savepoint: GroupCommit's WriteShape).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_SQLITE_JOURNAL_H_
#define ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_SQLITE_JOURNAL_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "orchestrator/journal/journal.h"
#include "platform/sqlite/database.h"
#include "platform/sqlite/group_commit.h"

namespace orchestrator::journal {

class SqliteJournal final : public Journal {
 public:
  // Creates the file (mode 0600) and its schema if missing. The directory must exist.
  static absl::StatusOr<std::unique_ptr<SqliteJournal>> Open(const std::string& path);
  ~SqliteJournal() override;
  SqliteJournal(const SqliteJournal&) = delete;
  SqliteJournal& operator=(const SqliteJournal&) = delete;

  absl::StatusOr<CreateResult> Create(const OperationRecord& record) override;
  absl::StatusOr<OperationRecord> Get(absl::string_view id) override;
  absl::StatusOr<std::optional<OperationRecord>> FindByRequestId(absl::string_view caller,
                                                                 absl::string_view request_id) override;
  absl::StatusOr<int64_t> Update(const OperationRecord& record, const UpdateOptions& options = {}) override;
  absl::StatusOr<std::vector<OperationRecord>> List(const ListQuery& query) override;
  absl::StatusOr<std::vector<OperationRecord>> ListUnfinished() override;
  absl::Status PutArtifact(absl::string_view operation_id, absl::string_view key, absl::string_view value) override;
  absl::Status PutArtifacts(const std::vector<Artifact>& artifacts) override;
  absl::StatusOr<std::optional<std::string>> GetArtifact(absl::string_view operation_id,
                                                         absl::string_view key) override;
  absl::StatusOr<std::map<std::string, std::string>> ListArtifacts(absl::string_view operation_id,
                                                                   absl::string_view prefix) override;
  absl::Status Ping() override;
  // sqlite_resource_owners.cc
  absl::Status RecordOwner(const ResourceOwner& owner) override;
  // One transaction and one INSERT for the unowned ones; nothing written when one is refused.
  absl::Status RecordOwners(const std::vector<ResourceOwner>& owners) override;
  absl::StatusOr<std::optional<ResourceOwner>> FindOwner(absl::string_view kind, absl::string_view resource) override;
  absl::StatusOr<AdoptResult> AdoptResource(const ResourceOwner& owner) override;

  const std::string& path() const { return path_; }
  // Transactions committed so far. For tests.
  uint64_t commits() const { return writes_.commits(); }

 private:
  SqliteJournal(std::string path, std::unique_ptr<platform::sqlite::Database> db);
  // The operation matching `where`, whose ?1, ?2, ... are the text `values`.
  absl::StatusOr<std::optional<OperationRecord>> FindOne(absl::string_view where,
                                                         std::initializer_list<absl::string_view> values)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<OperationRecord>> Select(platform::sqlite::Statement& statement)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<ResourceOwner>> FindOwnerLocked(absl::string_view kind, absl::string_view resource)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The writes, run by writes_ (mu_ held, inside a shared transaction).
  absl::StatusOr<CreateResult> CreateLocked(const OperationRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int64_t> UpdateLocked(const OperationRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status PutArtifactsLocked(const std::vector<Artifact>& artifacts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RecordOwnerLocked(const ResourceOwner& owner) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RecordOwnersLocked(const std::vector<ResourceOwner>& owners) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One INSERT of those not owned yet (UpdateOptions.owners: no refusal).
  absl::Status InsertMissingOwnersLocked(const std::vector<ResourceOwner>& owners) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<AdoptResult> AdoptResourceLocked(const ResourceOwner& owner) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `fn` as one write of a group commit; `out` its result, or the commit's error.
  template <typename T, typename Fn>
  absl::StatusOr<T> Batched(Fn fn, platform::sqlite::WriteShape shape = platform::sqlite::WriteShape::kOneStatement)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::StatusOr<T> out = absl::UnknownError("journal: write not run");
    absl::Status s = writes_.Write(
        [&] {
          mu_.AssertHeld();
          out = fn();
          return out.status();
        },
        shape);
    if (!s.ok()) return s;
    return out;
  }

  const std::string path_;
  absl::Mutex mu_;
  std::unique_ptr<platform::sqlite::Database> db_ ABSL_GUARDED_BY(mu_);
  platform::sqlite::GroupCommit writes_;  // on *db_ under mu_
};

}  // namespace orchestrator::journal

#endif  // ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_SQLITE_JOURNAL_H_
