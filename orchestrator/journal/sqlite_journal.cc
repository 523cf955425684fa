#include "orchestrator/journal/sqlite_journal.h"

#include <initializer_list>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "orchestrator/journal/error_context.h"
#include "platform/sqlite/schema.h"
#include "platform/sqlite/statement.h"
#include "platform/status_macros.h"

namespace orchestrator::journal {
namespace {

using platform::sqlite::CachedStatement;
using platform::sqlite::Statement;

// Version 1 (user_version 1); journals written before versioning have user_version 0 and this
// same schema, which the IF NOT EXISTS clauses leave as it is.
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

// Version 2: the owners of CVMs and apps (resource_owner.h). IF NOT EXISTS: a file whose
// user_version was reset (tests of pre-versioning files) may have the table already.
constexpr char kOwnersSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS resource_owners (
  kind TEXT NOT NULL,
  resource TEXT NOT NULL,
  tenant TEXT NOT NULL,
  source TEXT NOT NULL,
  created_at_us INTEGER NOT NULL,
  PRIMARY KEY (kind, resource)
);
CREATE INDEX IF NOT EXISTS resource_owners_by_tenant ON resource_owners (tenant);
)sql";

constexpr char kColumns[] =
    "id, caller, request_id, kind, state, cvm_id, create_time_us, update_time_us, request_digest, operation, "
    "internal, version, owner, lease_expires_us";

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

OperationRecord ReadRecord(const Statement& st) {
  OperationRecord r;
  r.id = st.ColumnText(0);
  r.caller = st.ColumnText(1);
  r.request_id = st.ColumnText(2);
  r.kind = static_cast<int>(st.ColumnInt(3));
  r.state = static_cast<int>(st.ColumnInt(4));
  r.cvm_id = st.ColumnText(5);
  r.create_time = absl::FromUnixMicros(st.ColumnInt(6));
  r.update_time = absl::FromUnixMicros(st.ColumnInt(7));
  r.request_digest = st.ColumnText(8);
  r.operation = st.ColumnBlob(9);
  r.internal = st.ColumnBlob(10);
  r.version = st.ColumnInt(11);
  r.owner = st.ColumnText(12);
  r.lease_expires = absl::FromUnixMicros(st.ColumnInt(13));
  return r;
}

}  // namespace

// Concurrent operations' writes rarely queue behind a commit by themselves (each waits on its own
// network calls between writes): a leader after a batch of several waits up to this long for as
// many (GroupCommit::Options). With 100 deploys in flight that is ~40 % fewer fsyncs for up to
// 1 ms more per write (bench/README.md "Stop 30"); a lone operation's writes never wait.
constexpr absl::Duration kCommitGather = absl::Milliseconds(1);

absl::StatusOr<std::unique_ptr<SqliteJournal>> SqliteJournal::Open(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("journal_path: required");
  // The process lock: two orchestrators resuming the same operations would repeat their effects.
  ASSIGN_OR_RETURN(std::unique_ptr<platform::sqlite::Database> db,
                   Context(platform::sqlite::Database::Open(path), "open"));
  RETURN_IF_ERROR(Context(platform::sqlite::ApplySchema(*db, {kSchema, kOwnersSchema}), "schema"));
  return std::unique_ptr<SqliteJournal>(new SqliteJournal(path, std::move(db)));
}

SqliteJournal::SqliteJournal(std::string path, std::unique_ptr<platform::sqlite::Database> db)
    : path_(std::move(path)), db_(std::move(db)), writes_(*db_, mu_, {.gather = kCommitGather}) {}

SqliteJournal::~SqliteJournal() {
  absl::MutexLock l(&mu_);
  db_.reset();  // closes the file, then releases the process lock
}

absl::StatusOr<std::optional<OperationRecord>> SqliteJournal::FindOne(absl::string_view where,
                                                                      std::initializer_list<absl::string_view> values) {
  ASSIGN_OR_RETURN(
      CachedStatement st,
      Context(db_->PrepareCached(absl::StrCat("SELECT ", kColumns, " FROM operations WHERE ", where)), "find"));
  int index = 0;
  for (absl::string_view v : values) st->BindText(++index, v);
  ASSIGN_OR_RETURN(bool row, Context(st->Step(), "find"));
  if (!row) return std::optional<OperationRecord>();
  return std::optional<OperationRecord>(ReadRecord(*st));
}

absl::StatusOr<std::vector<OperationRecord>> SqliteJournal::Select(Statement& st) {
  std::vector<OperationRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, Context(st.Step(), "list"));
    if (!row) return out;
    out.push_back(ReadRecord(st));
  }
}

absl::StatusOr<CreateResult> SqliteJournal::Create(const OperationRecord& record) {
  return Batched<CreateResult>([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return CreateLocked(record); });
}

absl::StatusOr<CreateResult> SqliteJournal::CreateLocked(const OperationRecord& record) {
  ASSIGN_OR_RETURN(std::optional<OperationRecord> existing,
                   FindOne("caller = ?1 AND request_id = ?2", {record.caller, record.request_id}));
  if (existing.has_value()) return CreateResult{*std::move(existing), false};
  ASSIGN_OR_RETURN(
      CachedStatement ins,
      Context(db_->PrepareCached(absl::StrCat("INSERT INTO operations (", kColumns,
                                              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, ?12, ?13)")),
              "create"));
  ins->BindText(1, record.id)
      .BindText(2, record.caller)
      .BindText(3, record.request_id)
      .BindInt(4, record.kind)
      .BindInt(5, record.state)
      .BindText(6, record.cvm_id)
      .BindInt(7, Micros(record.create_time))
      .BindInt(8, Micros(record.update_time))
      .BindText(9, record.request_digest)
      .BindBlob(10, record.operation)
      .BindBlob(11, record.internal)
      .BindText(12, record.owner)
      .BindInt(13, Micros(record.lease_expires));
  if (absl::Status s = ins->Run(); !s.ok()) {
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(absl::StrCat("journal: operation id ", record.id, " exists"));
    }
    return Context(s, "create");
  }
  CreateResult out{record, true};
  out.record.version = 1;
  return out;
}

absl::StatusOr<OperationRecord> SqliteJournal::Get(absl::string_view id) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(std::optional<OperationRecord> r, FindOne("id = ?1", {id}));
  if (!r.has_value()) return absl::NotFoundError(absl::StrCat("operation ", id, " not found"));
  return *std::move(r);
}

absl::StatusOr<std::optional<OperationRecord>> SqliteJournal::FindByRequestId(absl::string_view caller,
                                                                              absl::string_view request_id) {
  absl::MutexLock l(&mu_);
  return FindOne("caller = ?1 AND request_id = ?2", {caller, request_id});
}

// One process: its own watchers get the events from memory, so `options.events` is not kept.
absl::StatusOr<int64_t> SqliteJournal::Update(const OperationRecord& record, const UpdateOptions& options) {
  if (options.artifacts.empty() && options.owners.empty()) {
    return Batched<int64_t>([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return UpdateLocked(record); });
  }
  RETURN_IF_ERROR(CheckUpdateOptions(record, options));
  // Up to three statements, all or nothing (GroupCommit's savepoint).
  return Batched<int64_t>(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::StatusOr<int64_t> {
        ASSIGN_OR_RETURN(const int64_t version, UpdateLocked(record));
        if (!options.artifacts.empty()) RETURN_IF_ERROR(PutArtifactsLocked(options.artifacts));
        if (!options.owners.empty()) RETURN_IF_ERROR(InsertMissingOwnersLocked(options.owners));
        return version;
      },
      platform::sqlite::WriteShape::kSeveralStatements);
}

absl::StatusOr<int64_t> SqliteJournal::UpdateLocked(const OperationRecord& record) {
  ASSIGN_OR_RETURN(
      CachedStatement up,
      Context(db_->PrepareCached("UPDATE operations SET state = ?2, cvm_id = ?3, update_time_us = ?4, operation = ?5, "
                                 "internal = ?6, version = version + 1, owner = ?7, lease_expires_us = ?8 "
                                 "WHERE id = ?1 AND version = ?9"),
              "update"));
  up->BindText(1, record.id)
      .BindInt(2, record.state)
      .BindText(3, record.cvm_id)
      .BindInt(4, Micros(record.update_time))
      .BindBlob(5, record.operation)
      .BindBlob(6, record.internal)
      .BindText(7, record.owner)
      .BindInt(8, Micros(record.lease_expires))
      .BindInt(9, record.version);
  RETURN_IF_ERROR(Context(up->Run(), "update"));
  if (db_->changes() == 1) return record.version + 1;
  ASSIGN_OR_RETURN(std::optional<OperationRecord> cur, FindOne("id = ?1", {record.id}));
  if (!cur.has_value()) return absl::NotFoundError(absl::StrCat("operation ", record.id, " not found"));
  return absl::AbortedError(absl::StrCat("journal: operation ", record.id, " changed meanwhile (version ", cur->version,
                                         ", expected ", record.version, ")"));
}

absl::StatusOr<std::vector<OperationRecord>> SqliteJournal::List(const ListQuery& query) {
  absl::MutexLock l(&mu_);
  std::string sql = absl::StrCat("SELECT ", kColumns, " FROM operations WHERE 1");
  if (query.kind != 0) absl::StrAppend(&sql, " AND kind = ?1");
  if (query.state != 0) absl::StrAppend(&sql, " AND state = ?2");
  if (!query.cvm_id.empty()) absl::StrAppend(&sql, " AND cvm_id = ?3");
  if (query.callers.has_value()) {
    std::vector<std::string> marks;
    for (size_t i = 0; i < query.callers->size(); ++i) marks.push_back(absl::StrCat("?", 7 + i));
    absl::StrAppend(&sql, marks.empty() ? " AND 0" : absl::StrCat(" AND caller IN (", absl::StrJoin(marks, ","), ")"));
  }
  if (query.after.has_value()) {
    absl::StrAppend(&sql, " AND (create_time_us < ?4 OR (create_time_us = ?4 AND id < ?5))");
  }
  absl::StrAppend(&sql, " ORDER BY create_time_us DESC, id DESC LIMIT ?6");
  ASSIGN_OR_RETURN(Statement st, Context(db_->Prepare(sql), "list"));
  if (query.kind != 0) st.BindInt(1, query.kind);
  if (query.state != 0) st.BindInt(2, query.state);
  if (!query.cvm_id.empty()) st.BindText(3, query.cvm_id);
  if (query.after.has_value()) st.BindInt(4, Micros(query.after->create_time)).BindText(5, query.after->id);
  st.BindInt(6, static_cast<int64_t>(query.limit));
  if (query.callers.has_value()) {
    for (size_t i = 0; i < query.callers->size(); ++i) st.BindText(static_cast<int>(7 + i), (*query.callers)[i]);
  }
  return Select(st);
}

absl::StatusOr<std::vector<OperationRecord>> SqliteJournal::ListUnfinished() {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(Statement st, Context(db_->Prepare(absl::StrCat("SELECT ", kColumns,
                                                                   " FROM operations WHERE state NOT IN (4, 5, 6) "
                                                                   "ORDER BY create_time_us, id")),
                                         "list unfinished"));
  return Select(st);
}

absl::Status SqliteJournal::PutArtifact(absl::string_view operation_id, absl::string_view key,
                                        absl::string_view value) {
  return PutArtifacts({Artifact{std::string(operation_id), std::string(key), std::string(value)}});
}

absl::Status SqliteJournal::PutArtifacts(const std::vector<Artifact>& artifacts) {
  if (artifacts.empty()) return absl::OkStatus();
  return Batched<bool>([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::StatusOr<bool> {
           RETURN_IF_ERROR(PutArtifactsLocked(artifacts));
           return true;
         })
      .status();
}

absl::Status SqliteJournal::PutArtifactsLocked(const std::vector<Artifact>& artifacts) {
  // One statement for all of them, as GroupCommit requires of a write.
  std::string sql = "INSERT INTO artifacts (operation_id, key, value, update_time_us) VALUES (?1, ?2, ?3, ?4)";
  for (size_t i = 1; i < artifacts.size(); ++i) {
    absl::StrAppend(&sql, ", (?", 4 * i + 1, ", ?", 4 * i + 2, ", ?", 4 * i + 3, ", ?", 4 * i + 4, ")");
  }
  absl::StrAppend(&sql,
                  " ON CONFLICT (operation_id, key) DO UPDATE SET value = excluded.value, "
                  "update_time_us = excluded.update_time_us");
  ASSIGN_OR_RETURN(CachedStatement st, Context(db_->PrepareCached(sql), "put artifact"));
  const int64_t now = Micros(absl::Now());
  for (size_t i = 0; i < artifacts.size(); ++i) {
    const int base = static_cast<int>(4 * i);
    st->BindText(base + 1, artifacts[i].operation_id)
        .BindText(base + 2, artifacts[i].key)
        .BindBlob(base + 3, artifacts[i].value)
        .BindInt(base + 4, now);
  }
  return Context(st->Run(), "put artifact");
}

absl::StatusOr<std::optional<std::string>> SqliteJournal::GetArtifact(absl::string_view operation_id,
                                                                      absl::string_view key) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(
      CachedStatement st,
      Context(db_->PrepareCached("SELECT value FROM artifacts WHERE operation_id = ?1 AND key = ?2"), "get artifact"));
  st->BindText(1, operation_id).BindText(2, key);
  ASSIGN_OR_RETURN(bool row, Context(st->Step(), "get artifact"));
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(st->ColumnBlob(0));
}

absl::StatusOr<std::map<std::string, std::string>> SqliteJournal::ListArtifacts(absl::string_view operation_id,
                                                                                absl::string_view prefix) {
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(CachedStatement st,
                   Context(db_->PrepareCached("SELECT key, value FROM artifacts WHERE operation_id = ?1 "
                                              "AND substr(key, 1, ?3) = ?2 ORDER BY key"),
                           "list artifacts"));
  st->BindText(1, operation_id).BindText(2, prefix).BindInt(3, static_cast<int64_t>(prefix.size()));
  std::map<std::string, std::string> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, Context(st->Step(), "list artifacts"));
    if (!row) return out;
    out[st->ColumnText(0)] = st->ColumnBlob(1);
  }
}

absl::Status SqliteJournal::Ping() {
  absl::MutexLock l(&mu_);
  if (db_ == nullptr) return absl::UnavailableError("journal: closed");
  ASSIGN_OR_RETURN(CachedStatement st,
                   Context(db_->PrepareCached("SELECT value FROM meta WHERE key = 'schema_version'"), "ping"));
  ASSIGN_OR_RETURN(bool row, Context(st->Step(), "ping"));
  if (!row) return absl::InternalError("journal: ping: no schema_version");
  return absl::OkStatus();
}

}  // namespace orchestrator::journal
