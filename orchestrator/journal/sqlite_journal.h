// The embedded journal: one SQLite file in WAL mode with synchronous=FULL, so every write is on
// disk when the call returns (a step record survives kill -9 and power loss). One process owns
// the file at a time: Open takes an exclusive lock on "<path>.lock" and fails with
// FAILED_PRECONDITION if another orchestrator holds it (two processes resuming the same
// operations would repeat their effects). Thread-safe; calls are serialized on one connection.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_SQLITE_JOURNAL_H_
#define ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_SQLITE_JOURNAL_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "orchestrator/journal/journal.h"

struct sqlite3;

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
  absl::StatusOr<int64_t> Update(const OperationRecord& record) override;
  absl::StatusOr<std::vector<OperationRecord>> List(const ListQuery& query) override;
  absl::StatusOr<std::vector<OperationRecord>> ListUnfinished() override;
  absl::Status PutArtifact(absl::string_view operation_id, absl::string_view key, absl::string_view value) override;
  absl::StatusOr<std::optional<std::string>> GetArtifact(absl::string_view operation_id,
                                                         absl::string_view key) override;
  absl::StatusOr<std::map<std::string, std::string>> ListArtifacts(absl::string_view operation_id,
                                                                    absl::string_view prefix) override;
  absl::Status Ping() override;

  const std::string& path() const { return path_; }

 private:
  SqliteJournal(std::string path, sqlite3* db, int lock_fd);
  absl::StatusOr<std::optional<OperationRecord>> GetLocked(absl::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  absl::Mutex mu_;
  sqlite3* db_ ABSL_GUARDED_BY(mu_);
  int lock_fd_;
};

}  // namespace orchestrator::journal

#endif  // ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_SQLITE_JOURNAL_H_
