#include "orchestrator/journal/sqlite_journal.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace orchestrator::journal {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS operations (
  id TEXT PRIMARY KEY,
  caller TEXT NOT NULL,
  request_id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  state INTEGER NOT NULL,
  cvm_id TEXT NOT NULL,
  create_time_us INTEGER NOT NULL,
  update_time_us INTEGER NOT NULL,
  request_digest TEXT NOT NULL,
  operation BLOB NOT NULL,
  internal BLOB NOT NULL,
  version INTEGER NOT NULL,
  owner TEXT NOT NULL,
  lease_expires_us INTEGER NOT NULL,
  UNIQUE (caller, request_id)
);
CREATE INDEX IF NOT EXISTS operations_by_time ON operations (create_time_us DESC, id DESC);
CREATE INDEX IF NOT EXISTS operations_by_state ON operations (state);
CREATE TABLE IF NOT EXISTS artifacts (
  operation_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value BLOB NOT NULL,
  update_time_us INTEGER NOT NULL,
  PRIMARY KEY (operation_id, key)
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1');
)sql";

constexpr char kColumns[] =
    "id, caller, request_id, kind, state, cvm_id, create_time_us, update_time_us, request_digest, operation, "
    "internal, version, owner, lease_expires_us";

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, absl::string_view sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  absl::Status prepared() const {
    if (rc_ == SQLITE_OK) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("journal: prepare: ", sqlite3_errmsg(db_)));
  }
  Stmt& Text(int i, absl::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Blob(int i, absl::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Int(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  std::string ColText(int i) {
    const unsigned char* p = sqlite3_column_text(stmt_, i);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, i));
  }
  std::string ColBlob(int i) {
    const void* p = sqlite3_column_blob(stmt_, i);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, i));
  }
  int64_t ColInt(int i) { return sqlite3_column_int64(stmt_, i); }

  OperationRecord Record() {
    OperationRecord r;
    r.id = ColText(0);
    r.caller = ColText(1);
    r.request_id = ColText(2);
    r.kind = static_cast<int>(ColInt(3));
    r.state = static_cast<int>(ColInt(4));
    r.cvm_id = ColText(5);
    r.create_time = absl::FromUnixMicros(ColInt(6));
    r.update_time = absl::FromUnixMicros(ColInt(7));
    r.request_digest = ColText(8);
    r.operation = ColBlob(9);
    r.internal = ColBlob(10);
    r.version = ColInt(11);
    r.owner = ColText(12);
    r.lease_expires = absl::FromUnixMicros(ColInt(13));
    return r;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

absl::Status Error(sqlite3* db, absl::string_view what) {
  const int code = sqlite3_errcode(db);
  const std::string msg = absl::StrCat("journal: ", what, ": ", sqlite3_errmsg(db));
  // Busy, locked, I/O, full disk: the journal cannot be written now; the caller may retry.
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_IOERR || code == SQLITE_FULL ||
      code == SQLITE_CANTOPEN) {
    return absl::UnavailableError(msg);
  }
  return absl::InternalError(msg);
}

absl::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("journal: ", m));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsTerminalState(int state) { return state == 4 || state == 5 || state == 6; }

absl::StatusOr<std::unique_ptr<SqliteJournal>> SqliteJournal::Open(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("journal_path: required");
  const std::string lock_path = path + ".lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat("journal: cannot open ", lock_path, ": ", std::strerror(errno)));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return absl::FailedPreconditionError(
        absl::StrCat("journal ", path, " is in use by another orchestrator process (", lock_path, " is locked)"));
  }
  // Create the file 0600 before SQLite opens it (it would use the umask otherwise).
  if (const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600); fd >= 0) ::close(fd);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string m = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    ::close(lock_fd);
    return absl::FailedPreconditionError(absl::StrCat("journal: cannot open ", path, ": ", m));
  }
  sqlite3_busy_timeout(db, 5000);
  for (const char* sql : {"PRAGMA journal_mode=WAL;", "PRAGMA synchronous=FULL;", kSchema}) {
    if (absl::Status s = Exec(db, sql); !s.ok()) {
      sqlite3_close(db);
      ::close(lock_fd);
      return s;
    }
  }
  return std::unique_ptr<SqliteJournal>(new SqliteJournal(path, db, lock_fd));
}

SqliteJournal::SqliteJournal(std::string path, sqlite3* db, int lock_fd)
    : path_(std::move(path)), db_(db), lock_fd_(lock_fd) {}

SqliteJournal::~SqliteJournal() {
  {
    absl::MutexLock l(&mu_);
    sqlite3_close(db_);
    db_ = nullptr;
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

absl::StatusOr<std::optional<OperationRecord>> SqliteJournal::GetLocked(absl::string_view id) {
  Stmt st(db_, absl::StrCat("SELECT ", kColumns, " FROM operations WHERE id = ?1"));
  if (absl::Status s = st.prepared(); !s.ok()) return s;
  st.Text(1, id);
  const int rc = st.Step();
  if (rc == SQLITE_DONE) return std::optional<OperationRecord>();
  if (rc != SQLITE_ROW) return Error(db_, "get");
  return std::optional<OperationRecord>(st.Record());
}

absl::StatusOr<CreateResult> SqliteJournal::Create(const OperationRecord& record) {
  absl::MutexLock l(&mu_);
  {
    Stmt find(db_, absl::StrCat("SELECT ", kColumns, " FROM operations WHERE caller = ?1 AND request_id = ?2"));
    if (absl::Status s = find.prepared(); !s.ok()) return s;
    find.Text(1, record.caller).Text(2, record.request_id);
    const int rc = find.Step();
    if (rc == SQLITE_ROW) return CreateResult{find.Record(), false};
    if (rc != SQLITE_DONE) return Error(db_, "create");
  }
  Stmt ins(db_, absl::StrCat("INSERT INTO operations (", kColumns,
                             ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, ?12, ?13)"));
  if (absl::Status s = ins.prepared(); !s.ok()) return s;
  ins.Text(1, record.id)
      .Text(2, record.caller)
      .Text(3, record.request_id)
      .Int(4, record.kind)
      .Int(5, record.state)
      .Text(6, record.cvm_id)
      .Int(7, Micros(record.create_time))
      .Int(8, Micros(record.update_time))
      .Text(9, record.request_digest)
      .Blob(10, record.operation)
      .Blob(11, record.internal)
      .Text(12, record.owner)
      .Int(13, Micros(record.lease_expires));
  if (ins.Step() != SQLITE_DONE) {
    if (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return absl::AlreadyExistsError(absl::StrCat("journal: operation id ", record.id, " exists"));
    }
    return Error(db_, "create");
  }
  CreateResult out{record, true};
  out.record.version = 1;
  return out;
}

absl::StatusOr<OperationRecord> SqliteJournal::Get(absl::string_view id) {
  absl::MutexLock l(&mu_);
  absl::StatusOr<std::optional<OperationRecord>> r = GetLocked(id);
  if (!r.ok()) return r.status();
  if (!r->has_value()) return absl::NotFoundError(absl::StrCat("operation ", id, " not found"));
  return **std::move(r);
}

absl::StatusOr<std::optional<OperationRecord>> SqliteJournal::FindByRequestId(absl::string_view caller,
                                                                               absl::string_view request_id) {
  absl::MutexLock l(&mu_);
  Stmt st(db_, absl::StrCat("SELECT ", kColumns, " FROM operations WHERE caller = ?1 AND request_id = ?2"));
  if (absl::Status s = st.prepared(); !s.ok()) return s;
  st.Text(1, caller).Text(2, request_id);
  const int rc = st.Step();
  if (rc == SQLITE_DONE) return std::optional<OperationRecord>();
  if (rc != SQLITE_ROW) return Error(db_, "find");
  return std::optional<OperationRecord>(st.Record());
}

absl::StatusOr<int64_t> SqliteJournal::Update(const OperationRecord& record) {
  absl::MutexLock l(&mu_);
  Stmt up(db_,
          "UPDATE operations SET state = ?2, cvm_id = ?3, update_time_us = ?4, operation = ?5, internal = ?6, "
          "version = version + 1, owner = ?7, lease_expires_us = ?8 WHERE id = ?1 AND version = ?9");
  if (absl::Status s = up.prepared(); !s.ok()) return s;
  up.Text(1, record.id)
      .Int(2, record.state)
      .Text(3, record.cvm_id)
      .Int(4, Micros(record.update_time))
      .Blob(5, record.operation)
      .Blob(6, record.internal)
      .Text(7, record.owner)
      .Int(8, Micros(record.lease_expires))
      .Int(9, record.version);
  if (up.Step() != SQLITE_DONE) return Error(db_, "update");
  if (sqlite3_changes(db_) == 1) return record.version + 1;
  absl::StatusOr<std::optional<OperationRecord>> cur = GetLocked(record.id);
  if (!cur.ok()) return cur.status();
  if (!cur->has_value()) return absl::NotFoundError(absl::StrCat("operation ", record.id, " not found"));
  return absl::AbortedError(absl::StrCat("journal: operation ", record.id, " changed meanwhile (version ",
                                         (*cur)->version, ", expected ", record.version, ")"));
}

absl::StatusOr<std::vector<OperationRecord>> SqliteJournal::List(const ListQuery& query) {
  absl::MutexLock l(&mu_);
  std::string sql = absl::StrCat("SELECT ", kColumns, " FROM operations WHERE 1");
  if (query.kind != 0) absl::StrAppend(&sql, " AND kind = ?1");
  if (query.state != 0) absl::StrAppend(&sql, " AND state = ?2");
  if (!query.cvm_id.empty()) absl::StrAppend(&sql, " AND cvm_id = ?3");
  if (query.after.has_value()) {
    absl::StrAppend(&sql, " AND (create_time_us < ?4 OR (create_time_us = ?4 AND id < ?5))");
  }
  absl::StrAppend(&sql, " ORDER BY create_time_us DESC, id DESC LIMIT ?6");
  Stmt st(db_, sql);
  if (absl::Status s = st.prepared(); !s.ok()) return s;
  if (query.kind != 0) st.Int(1, query.kind);
  if (query.state != 0) st.Int(2, query.state);
  if (!query.cvm_id.empty()) st.Text(3, query.cvm_id);
  if (query.after.has_value()) st.Int(4, Micros(query.after->create_time)).Text(5, query.after->id);
  st.Int(6, static_cast<int64_t>(query.limit));
  std::vector<OperationRecord> out;
  for (;;) {
    const int rc = st.Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return Error(db_, "list");
    out.push_back(st.Record());
  }
  return out;
}

absl::StatusOr<std::vector<OperationRecord>> SqliteJournal::ListUnfinished() {
  absl::MutexLock l(&mu_);
  Stmt st(db_, absl::StrCat("SELECT ", kColumns,
                            " FROM operations WHERE state NOT IN (4, 5, 6) ORDER BY create_time_us, id"));
  if (absl::Status s = st.prepared(); !s.ok()) return s;
  std::vector<OperationRecord> out;
  for (;;) {
    const int rc = st.Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return Error(db_, "list unfinished");
    out.push_back(st.Record());
  }
  return out;
}

absl::Status SqliteJournal::PutArtifact(absl::string_view operation_id, absl::string_view key,
                                        absl::string_view value) {
  absl::MutexLock l(&mu_);
  Stmt st(db_,
          "INSERT INTO artifacts (operation_id, key, value, update_time_us) VALUES (?1, ?2, ?3, ?4) "
          "ON CONFLICT (operation_id, key) DO UPDATE SET value = excluded.value, update_time_us = "
          "excluded.update_time_us");
  if (absl::Status s = st.prepared(); !s.ok()) return s;
  st.Text(1, operation_id).Text(2, key).Blob(3, value).Int(4, Micros(absl::Now()));
  if (st.Step() != SQLITE_DONE) return Error(db_, "put artifact");
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> SqliteJournal::GetArtifact(absl::string_view operation_id,
                                                                      absl::string_view key) {
  absl::MutexLock l(&mu_);
  Stmt st(db_, "SELECT value FROM artifacts WHERE operation_id = ?1 AND key = ?2");
  if (absl::Status s = st.prepared(); !s.ok()) return s;
  st.Text(1, operation_id).Text(2, key);
  const int rc = st.Step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return Error(db_, "get artifact");
  return std::optional<std::string>(st.ColBlob(0));
}

absl::StatusOr<std::map<std::string, std::string>> SqliteJournal::ListArtifacts(absl::string_view operation_id,
                                                                                 absl::string_view prefix) {
  absl::MutexLock l(&mu_);
  Stmt st(db_, "SELECT key, value FROM artifacts WHERE operation_id = ?1 AND substr(key, 1, ?3) = ?2 ORDER BY key");
  if (absl::Status s = st.prepared(); !s.ok()) return s;
  st.Text(1, operation_id).Text(2, prefix).Int(3, static_cast<int64_t>(prefix.size()));
  std::map<std::string, std::string> out;
  for (;;) {
    const int rc = st.Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return Error(db_, "list artifacts");
    out[st.ColText(0)] = st.ColBlob(1);
  }
  return out;
}

absl::Status SqliteJournal::Ping() {
  absl::MutexLock l(&mu_);
  if (db_ == nullptr) return absl::UnavailableError("journal: closed");
  Stmt st(db_, "SELECT value FROM meta WHERE key = 'schema_version'");
  if (absl::Status s = st.prepared(); !s.ok()) return s;
  if (st.Step() != SQLITE_ROW) return Error(db_, "ping");
  return absl::OkStatus();
}

}  // namespace orchestrator::journal
