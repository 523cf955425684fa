#include "platform/sqlite/database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/sqlite/error.h"
#include "platform/status_macros.h"

namespace platform::sqlite {
namespace {

// SQLite would create the file with the umask's mode, and its -wal/-shm files copy the
// database's mode: create it 0600 first.
absl::Status CreatePrivateFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  ::close(fd);
  return absl::OkStatus();
}

std::string Pragmas(const OpenOptions& options) {
  return absl::StrCat(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=", options.synchronous == Synchronous::kFull ? "FULL" : "NORMAL",
      "; PRAGMA foreign_keys=", options.foreign_keys ? "ON" : "OFF", ";");
}

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path, const OpenOptions& options) {
  if (path.empty()) return absl::InvalidArgumentError("database path: required");
  ASSIGN_OR_RETURN(ProcessLock lock, ProcessLock::Acquire(path));
  RETURN_IF_ERROR(CreatePrivateFile(path));
  return Connect(path, options, std::make_shared<const ProcessLock>(std::move(lock)));
}

absl::StatusOr<std::unique_ptr<Database>> Database::OpenConnection() const { return Connect(path_, options_, lock_); }

absl::StatusOr<std::unique_ptr<Database>> Database::Connect(const std::string& path, const OpenOptions& options,
                                                            std::shared_ptr<const ProcessLock> lock) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    absl::Status s = db == nullptr ? absl::ResourceExhaustedError(absl::StrCat("open ", path, ": out of memory"))
                                   : LastError(db, absl::StrCat("open ", path));
    sqlite3_close_v2(db);
    return s;
  }
  std::unique_ptr<Database> out(new Database(path, options, std::move(lock), db));
  sqlite3_busy_timeout(db, static_cast<int>(absl::ToInt64Milliseconds(options.busy_timeout)));
  RETURN_IF_ERROR(out->Exec(Pragmas(options)));
  return out;
}

// close_v2: a statement still alive keeps the connection (as a zombie) until it is finalized,
// instead of the close failing and the connection leaking.
Database::~Database() {
  {
    absl::MutexLock l(&cache_mu_);
    cache_.clear();
  }
  sqlite3_close_v2(db_);
}

absl::Status Database::Exec(absl::string_view sql) {
  const std::string text(sql);
  char* message = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    absl::Status s = ErrorFromCode(sqlite3_extended_errcode(db_), absl::StrCat(path_, ": exec"),
                                   message != nullptr ? message : sqlite3_errmsg(db_));
    sqlite3_free(message);
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<Statement> Database::Prepare(absl::string_view sql) { return Statement::Prepare(db_, sql); }

absl::StatusOr<CachedStatement> Database::PrepareCached(absl::string_view sql) {
  absl::MutexLock l(&cache_mu_);
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    ASSIGN_OR_RETURN(Statement st, Statement::Prepare(db_, sql));
    it = cache_.emplace(std::string(sql), std::make_unique<Statement>(std::move(st))).first;
  }
  return CachedStatement(it->second.get());
}

absl::Status Database::RunCached(absl::string_view sql) {
  ASSIGN_OR_RETURN(CachedStatement st, PrepareCached(sql));
  return st->Run();
}

int64_t Database::changes() const { return sqlite3_changes(db_); }

int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

bool Database::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

}  // namespace platform::sqlite
