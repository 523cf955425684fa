// Group commit on one connection, without a thread of its own: concurrent writers queue their
// write; the first that finds no commit in progress leads: it runs every queued write in one
// transaction (BEGIN IMMEDIATE ... COMMIT, so one fsync for all of them) and wakes the others.
// Write returns only after the transaction holding its write committed, so "on disk when the
// call returns" holds exactly as with one transaction per write. A lone writer commits alone.
//
// Invariant the writes must keep: each changes the database with at most one statement. SQLite
// undoes a failed statement by itself and keeps the transaction, so a write that fails leaves
// nothing behind and the others of its batch still commit. A write failing UNAVAILABLE (disk
// full, I/O error: SQLite may have rolled back the transaction) rolls back the whole batch, and
// every write of it gets that error: none was written. So does any failed write after which
// SQLite has rolled the transaction back on its own (out of memory, interrupt, RAISE(ROLLBACK)).
#ifndef ONCHAIN_KMS_PLATFORM_SQLITE_GROUP_COMMIT_H_
#define ONCHAIN_KMS_PLATFORM_SQLITE_GROUP_COMMIT_H_

#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "platform/sqlite/database.h"

namespace platform::sqlite {

class GroupCommit {
 public:
  // `db` is used with `db_mu` held: the mutex the owner's other statements on it take.
  GroupCommit(Database& db, absl::Mutex& db_mu) : db_(db), db_mu_(db_mu) {}
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Runs `write` (on some writer's thread, with db_mu held) in a transaction shared with the
  // writes queued meanwhile; its status once that transaction committed, or the error that
  // kept it from committing. Must not be called with db_mu held.
  absl::Status Write(absl::FunctionRef<absl::Status()> write) ABSL_LOCKS_EXCLUDED(db_mu_);

  // Transactions committed so far (a batch of one included).
  uint64_t commits() const;

 private:
  struct Pending {
    explicit Pending(absl::FunctionRef<absl::Status()> w) : write(w) {}
    absl::FunctionRef<absl::Status()> write;
    absl::Status status;
    bool done = false;
  };
  void RunBatch(const std::vector<Pending*>& batch) ABSL_LOCKS_EXCLUDED(mu_);

  Database& db_;
  absl::Mutex& db_mu_;
  mutable absl::Mutex mu_;
  std::vector<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t commits_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace platform::sqlite

#endif  // ONCHAIN_KMS_PLATFORM_SQLITE_GROUP_COMMIT_H_
