// Group commit on one connection, without a thread of its own: concurrent writers queue their
// write; the first that finds no commit in progress leads: it runs every queued write in one
// transaction (BEGIN IMMEDIATE ... COMMIT, so one fsync for all of them) and wakes the others.
// Write returns only after the transaction holding its write committed, so "on disk when the
// call returns" holds exactly as with one transaction per write. A lone writer commits alone.
//
// A write changes the database with one statement, or declares several (WriteShape): SQLite undoes
// a failed statement by itself and keeps the transaction; a write of several statements runs
// inside a SAVEPOINT (in its own transaction when alone), rolled back to on failure. Either way a
// write that fails leaves nothing behind and the others of its batch still commit. A write failing UNAVAILABLE (disk
// full, I/O error: SQLite may have rolled back the transaction) rolls back the whole batch, and
// every write of it gets that error: none was written. So does any failed write after which
// SQLite has rolled the transaction back on its own (out of memory, interrupt, RAISE(ROLLBACK)).
//
// Gathering (Options.gather, off by default): a commit costs an fsync and its WAL pages whatever
// its size, and writers that are many but each waiting on something else (a network call) rarely
// queue behind a commit by themselves. A leader whose previous batch had k > 1 writes waits up to
// `gather` for k writes to queue before it commits; a batch of one (a lone writer) never waits.
#ifndef ONCHAIN_KMS_PLATFORM_SQLITE_GROUP_COMMIT_H_
#define ONCHAIN_KMS_PLATFORM_SQLITE_GROUP_COMMIT_H_

#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "platform/sqlite/database.h"

namespace platform::sqlite {

// How many statements a write changes the database with (see above).
enum class WriteShape { kOneStatement, kSeveralStatements };

class GroupCommit {
 public:
  struct Options {
    // Longest a leader waits for writes to join its batch (see above); zero: never.
    absl::Duration gather = absl::ZeroDuration();
  };
  // `db` is used with `db_mu` held: the mutex the owner's other statements on it take.
  GroupCommit(Database& db, absl::Mutex& db_mu, Options options) : db_(db), db_mu_(db_mu), options_(options) {}
  GroupCommit(Database& db, absl::Mutex& db_mu) : GroupCommit(db, db_mu, Options()) {}
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Runs `write` (on some writer's thread, with db_mu held) in a transaction shared with the
  // writes queued meanwhile; its status once that transaction committed, or the error that
  // kept it from committing. Must not be called with db_mu held.
  absl::Status Write(absl::FunctionRef<absl::Status()> write, WriteShape shape = WriteShape::kOneStatement)
      ABSL_LOCKS_EXCLUDED(db_mu_);

  // Transactions committed so far (a batch of one included).
  uint64_t commits() const;
  // Writes queued for the next batch (a gathering leader's own included).
  size_t queued() const;

 private:
  struct Pending {
    Pending(absl::FunctionRef<absl::Status()> w, WriteShape s) : write(w), shape(s) {}
    absl::FunctionRef<absl::Status()> write;
    WriteShape shape;
    absl::Status status;
    bool done = false;
  };
  void RunBatch(const std::vector<Pending*>& batch) ABSL_LOCKS_EXCLUDED(mu_);
  // A batch of one: a one-statement write autocommits, a write of several gets a transaction.
  void RunAlone(Pending& p);
  // Runs a write of several statements inside the batch's transaction: all of it or, on failure,
  // nothing (ROLLBACK TO its savepoint). Sets p.status; an error when the savepoint itself failed
  // (the batch then fails).
  absl::Status RunInSavepoint(Pending& p);

  Database& db_;
  absl::Mutex& db_mu_;
  const Options options_;
  mutable absl::Mutex mu_;
  std::vector<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  size_t last_batch_ ABSL_GUARDED_BY(mu_) = 0;  // writes in the latest batch
  uint64_t commits_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace platform::sqlite

#endif  // ONCHAIN_KMS_PLATFORM_SQLITE_GROUP_COMMIT_H_
