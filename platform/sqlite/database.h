// One SQLite database file held by this process. Open creates the file 0600, takes the process
// lock ("<path>.lock", see process_lock.h), and sets journal_mode=WAL, synchronous (FULL unless
// asked otherwise: a COMMIT is on disk when it returns, so a record survives kill -9 and power
// loss), a busy timeout and foreign keys. More connections to the same file for this process
// (e.g. a reader beside a group-commit writer) come from OpenConnection and share the lock.
//
// A Database is one connection, opened in SQLite's serialized mode; callers still serialize
// their own statement sequences (a Statement is not thread-safe).
#ifndef ONCHAIN_KMS_PLATFORM_SQLITE_DATABASE_H_
#define ONCHAIN_KMS_PLATFORM_SQLITE_DATABASE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "platform/sqlite/process_lock.h"
#include "platform/sqlite/statement.h"

struct sqlite3;

namespace platform::sqlite {

enum class Synchronous { kFull, kNormal };

struct OpenOptions {
  // kNormal only for test tools: a WAL commit is then synced at checkpoints, not at COMMIT.
  Synchronous synchronous = Synchronous::kFull;
  absl::Duration busy_timeout = absl::Seconds(5);
  bool foreign_keys = false;
};

class Database {
 public:
  // FAILED_PRECONDITION naming `path` if another process (or another Open in this one) holds it;
  // the directory must exist.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path, const OpenOptions& options = {});
  ~Database();  // finalizes the cached statements, then closes
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Another connection to the same file, sharing this one's process lock and options.
  absl::StatusOr<std::unique_ptr<Database>> OpenConnection() const;

  // Runs one or more statements without parameters (schema, pragmas).
  absl::Status Exec(absl::string_view sql);
  absl::StatusOr<Statement> Prepare(absl::string_view sql);
  // The statement for `sql`, parsed the first time only and kept with this connection: what a
  // service runs per request should not be compiled per request. The handle resets it (bindings
  // cleared, a SELECT's read transaction ended) when it goes out of scope. One handle per `sql` at
  // a time: the caller serializes, as for any statement on this connection.
  absl::StatusOr<CachedStatement> PrepareCached(absl::string_view sql);
  // Runs the cached statement for `sql` (no parameters, no rows): BEGIN, COMMIT, SAVEPOINT...
  absl::Status RunCached(absl::string_view sql);

  // Rows changed by the last INSERT/UPDATE/DELETE on this connection, and the last rowid inserted.
  int64_t changes() const;
  int64_t last_insert_rowid() const;
  // False in autocommit mode: also after SQLite rolled an open transaction back on its own
  // (SQLITE_FULL, SQLITE_NOMEM, SQLITE_INTERRUPT, RAISE(ROLLBACK)) or a statement ended it.
  bool in_transaction() const;

  const std::string& path() const { return path_; }

 private:
  Database(std::string path, OpenOptions options, std::shared_ptr<const ProcessLock> lock, sqlite3* db)
      : path_(std::move(path)), options_(options), lock_(std::move(lock)), db_(db) {}
  static absl::StatusOr<std::unique_ptr<Database>> Connect(const std::string& path, const OpenOptions& options,
                                                           std::shared_ptr<const ProcessLock> lock);

  const std::string path_;
  const OpenOptions options_;
  std::shared_ptr<const ProcessLock> lock_;
  sqlite3* db_;
  absl::Mutex cache_mu_;
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> cache_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace platform::sqlite

#endif  // ONCHAIN_KMS_PLATFORM_SQLITE_DATABASE_H_
