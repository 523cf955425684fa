#include "orchestrator/journal/postgres_journal.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "orchestrator/journal/error_context.h"
#include "orchestrator/journal/postgres_change_feed.h"
#include "platform/postgres/connection.h"
#include "platform/postgres/result.h"
#include "platform/postgres/schema.h"
#include "platform/status_macros.h"

namespace orchestrator::journal {
namespace {

using platform::postgres::Param;
using platform::postgres::Result;

// Version 1: docs/design/postgres-replicas.md § 3.3 without what later steps add with the code
// that uses it (the NOTIFY trigger, the nonce tables). The lease columns are here already so
// that claims and fencing need no migration of the busiest table.
constexpr absl::string_view kSchemaV1 = R"sql(
CREATE TABLE replicas (
  id            text PRIMARY KEY,
  boot_id       text NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  heartbeat_at  timestamptz NOT NULL DEFAULT now(),
  expires       timestamptz NOT NULL,
  address       text NOT NULL DEFAULT '',
  build         text NOT NULL DEFAULT ''
);
CREATE TABLE operations (
  id               text PRIMARY KEY,
  caller           text NOT NULL,
  request_id       text NOT NULL,
  kind             integer NOT NULL,
  state            smallint NOT NULL CHECK (state BETWEEN 1 AND 6),
  cvm_id           text NOT NULL DEFAULT '',
  create_time_us   bigint NOT NULL,
  update_time_us   bigint NOT NULL,
  request_digest   text NOT NULL,
  operation        bytea NOT NULL,
  internal         bytea NOT NULL,
  version          bigint NOT NULL CHECK (version >= 1),
  owner            text NOT NULL DEFAULT '',
  lease_epoch      bigint NOT NULL DEFAULT 0,
  irreversible     boolean NOT NULL DEFAULT false,
  cancel_requested boolean NOT NULL DEFAULT false,
  CONSTRAINT operations_caller_request_id UNIQUE (caller, request_id)
) WITH (fillfactor = 80);
CREATE INDEX operations_by_time  ON operations (create_time_us DESC, id DESC);
CREATE INDEX operations_by_state ON operations (state, create_time_us DESC, id DESC);
CREATE INDEX operations_by_cvm   ON operations (cvm_id, create_time_us DESC, id DESC) WHERE cvm_id <> '';
CREATE INDEX operations_open     ON operations (create_time_us, id) WHERE state IN (1, 2, 3);
CREATE INDEX operations_by_owner ON operations (owner) WHERE state IN (1, 2, 3);
CREATE TABLE artifacts (
  operation_id    text NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
  key             text NOT NULL,
  value           bytea NOT NULL,
  update_time_us  bigint NOT NULL,
  PRIMARY KEY (operation_id, key)
);
CREATE TABLE operation_changes (
  operation_id  text NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
  version       bigint NOT NULL,
  change_time   timestamptz NOT NULL DEFAULT now(),
  events        bytea NOT NULL,
  operation     bytea NOT NULL,
  PRIMARY KEY (operation_id, version)
);
)sql";

// Version 3: the owners of CVMs and apps (resource_owner.h).
constexpr absl::string_view kSchemaV3 = R"sql(
CREATE TABLE resource_owners (
  kind           text NOT NULL CHECK (kind IN ('cvm', 'app')),
  resource       text NOT NULL,
  tenant         text NOT NULL,
  source         text NOT NULL,
  created_at_us  bigint NOT NULL,
  PRIMARY KEY (kind, resource)
);
CREATE INDEX resource_owners_by_tenant ON resource_owners (tenant);
)sql";

// Unfinished now includes WAITING_FOR_OWNER (7): the partial indexes cover it.
constexpr absl::string_view kSchemaV4 = R"sql(
DROP INDEX operations_open;
DROP INDEX operations_by_owner;
CREATE INDEX operations_open     ON operations (create_time_us, id) WHERE state IN (1, 2, 3, 7);
CREATE INDEX operations_by_owner ON operations (owner) WHERE state IN (1, 2, 3, 7);
)sql";

constexpr absl::string_view kColumns =
    "id, caller, request_id, kind, state, cvm_id, create_time_us, update_time_us, request_digest, operation, "
    "internal, version, owner, lease_epoch, irreversible, cancel_requested";
// The same, for statements that join another relation.
constexpr absl::string_view kColumnsOfO =
    "o.id, o.caller, o.request_id, o.kind, o.state, o.cvm_id, o.create_time_us, o.update_time_us, "
    "o.request_digest, o.operation, o.internal, o.version, o.owner, o.lease_epoch, o.irreversible, "
    "o.cancel_requested";

// The creator owns a new operation with epoch 1.
constexpr absl::string_view kInsert =
    "INSERT INTO operations (id, caller, request_id, kind, state, cvm_id, create_time_us, update_time_us, "
    "request_digest, operation, internal, version, owner, lease_epoch) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
    "$10, $11, 1, $12, 1) ON CONFLICT ON CONSTRAINT operations_caller_request_id DO NOTHING RETURNING version";

// "Replica $id with boot $boot holds a live lease", on the database clock.
#define PG_LIVE(id, boot) \
  "EXISTS (SELECT 1 FROM replicas r WHERE r.id = " id " AND r.boot_id = " boot " AND r.expires > now())"

// Fenced once registered ($10 = the boot id): the writer's owner and epoch, its live lease, and
// no `irreversible` over a requested cancel. Unregistered ($10 = ''): the version alone.
constexpr absl::string_view kUpdate =
    "UPDATE operations SET state = $2, cvm_id = $3, update_time_us = $4, operation = $5, internal = $6, "
    "version = version + 1, owner = $7, irreversible = $9::boolean WHERE id = $1 AND version = $8 "
    "AND ($10::text = '' OR (owner = $7 AND lease_epoch = $11::bigint AND " PG_LIVE("$7", "$10::text") ")) "
    "AND (NOT $9::boolean OR irreversible OR NOT cancel_requested) RETURNING version";

// An artifact put replaces the one of the same (operation, key): every INSERT into artifacts ends so.
#define PG_ARTIFACT_UPSERT \
  "ON CONFLICT (operation_id, key) DO UPDATE SET value = EXCLUDED.value, update_time_us = EXCLUDED.update_time_us"

constexpr absl::string_view kArtifactUpsert = PG_ARTIFACT_UPSERT;

constexpr absl::string_view kPutArtifact =
    "INSERT INTO artifacts (operation_id, key, value, update_time_us) VALUES ($1, $2, $3, $4) " PG_ARTIFACT_UPSERT;

constexpr absl::string_view kPutArtifactFenced =
    "WITH lease AS (SELECT id FROM operations WHERE id = $1 AND owner = $5::text AND lease_epoch = $6::bigint "
    "AND " PG_LIVE("$5::text", "$7::text") " FOR SHARE) "
    "INSERT INTO artifacts (operation_id, key, value, update_time_us) SELECT id, $2::text, $3::bytea, $4::bigint "
    "FROM lease " PG_ARTIFACT_UPSERT " RETURNING 1";

#undef PG_ARTIFACT_UPSERT

// Runnable operations nobody live owns, oldest first; SKIP LOCKED so that replicas claiming at
// the same moment take different ones instead of waiting for each other.
constexpr absl::string_view kClaim =
    "WITH c AS (SELECT o.id FROM operations o WHERE o.state IN (1, 2, 7) AND o.owner <> $1 AND (o.owner = '' OR NOT "
    "EXISTS (SELECT 1 FROM replicas x WHERE x.id = o.owner AND x.expires > now())) "
    "ORDER BY o.create_time_us, o.id LIMIT $3::bigint FOR UPDATE OF o SKIP LOCKED) "
    "UPDATE operations o SET owner = $1, lease_epoch = o.lease_epoch + 1 FROM c WHERE o.id = c.id AND " PG_LIVE(
        "$1::text", "$2::text") " RETURNING ";

// An operation waiting for input whose owner died is nobody's (any replica may take its input).
constexpr absl::string_view kReleaseDeadWaiting =
    "UPDATE operations o SET owner = '' WHERE o.state = 3 AND o.owner <> '' AND NOT EXISTS "
    "(SELECT 1 FROM replicas x WHERE x.id = o.owner AND x.expires > now())";

constexpr absl::string_view kClaimOne =
    "UPDATE operations o SET owner = $2, lease_epoch = o.lease_epoch + 1 WHERE o.id = $1 AND o.state = ANY($4::"
    "smallint[]) AND (o.owner = '' OR o.owner = $2 OR NOT EXISTS (SELECT 1 FROM replicas x WHERE x.id = o.owner "
    "AND x.expires > now())) AND " PG_LIVE("$2::text", "$3::text") " RETURNING ";

#undef PG_LIVE

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

// kUpdate (its parameters in `params`) as one statement that also writes what `options` carries,
// each part only if the UPDATE matched (data-modifying WITHs run to completion, the outer SELECT
// reads none of them): the change's events with the operation after it ($5) for the change feed
// (change_feed.h), the artifacts (replaced), the owner rows (unless owned already).
std::string UpdateWith(const UpdateOptions& options, std::vector<Param>& params) {
  std::string sql =
      absl::StrCat("WITH up AS (", kUpdate.substr(0, kUpdate.rfind("RETURNING version")), "RETURNING id, version)");
  auto next = [&params](Param p) {
    params.push_back(std::move(p));
    return absl::StrCat("$", params.size());
  };
  if (!options.events.empty()) {
    absl::StrAppend(&sql,
                    ", log AS (INSERT INTO operation_changes (operation_id, version, events, operation) "
                    "SELECT id, version, ",
                    next(Param::Bytes(options.events)), ", $5 FROM up)");
  }
  if (!options.artifacts.empty()) {
    std::vector<std::string> rows;
    const int64_t now = Micros(absl::Now());
    for (const Artifact& a : options.artifacts) {
      rows.push_back(absl::StrCat("(", next(Param::Text(a.key)), "::text, ", next(Param::Bytes(a.value)), "::bytea, ",
                                  next(Param::Int(now)), "::bigint)"));
    }
    absl::StrAppend(&sql,
                    ", art AS (INSERT INTO artifacts (operation_id, key, value, update_time_us) "
                    "SELECT up.id, a.key, a.value, a.t FROM up, (VALUES ",
                    absl::StrJoin(rows, ", "), ") AS a(key, value, t) ", kArtifactUpsert, ")");
  }
  if (!options.owners.empty()) {
    std::vector<std::string> rows;
    for (const ResourceOwner& o : options.owners) {
      rows.push_back(absl::StrCat("(", next(Param::Text(o.kind)), "::text, ", next(Param::Text(o.resource)), "::text, ",
                                  next(Param::Text(o.tenant)), "::text, ", next(Param::Text(o.source)), "::text, ",
                                  next(Param::Int(Micros(o.created_at))), "::bigint)"));
    }
    absl::StrAppend(&sql,
                    ", own AS (INSERT INTO resource_owners (kind, resource, tenant, source, created_at_us) "
                    "SELECT o.* FROM up, (VALUES ",
                    absl::StrJoin(rows, ", "),
                    ") AS o(kind, resource, tenant, source, created_at_us) ON CONFLICT (kind, resource) DO NOTHING)");
  }
  return absl::StrCat(sql, " SELECT version FROM up");
}

// A text[] literal: every element quoted, '"' and '\\' escaped (caller identities are free text).
std::string TextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

Param Bool(bool b) { return Param::Text(b ? "true" : "false"); }

std::vector<OperationRecord> Oldest(std::vector<OperationRecord> records) {
  std::sort(records.begin(), records.end(), [](const OperationRecord& a, const OperationRecord& b) {
    return std::tie(a.create_time, a.id) < std::tie(b.create_time, b.id);
  });
  return records;
}

absl::StatusOr<OperationRecord> ReadRecord(const Result& rows, int row) {
  OperationRecord r;
  r.id = rows.Text(row, 0);
  r.caller = rows.Text(row, 1);
  r.request_id = rows.Text(row, 2);
  ASSIGN_OR_RETURN(const int64_t kind, rows.Int(row, 3));
  ASSIGN_OR_RETURN(const int64_t state, rows.Int(row, 4));
  r.kind = static_cast<int>(kind);
  r.state = static_cast<int>(state);
  r.cvm_id = rows.Text(row, 5);
  ASSIGN_OR_RETURN(const int64_t created_us, rows.Int(row, 6));
  ASSIGN_OR_RETURN(const int64_t updated_us, rows.Int(row, 7));
  r.create_time = absl::FromUnixMicros(created_us);
  r.update_time = absl::FromUnixMicros(updated_us);
  r.request_digest = rows.Text(row, 8);
  ASSIGN_OR_RETURN(r.operation, rows.Bytes(row, 9));
  ASSIGN_OR_RETURN(r.internal, rows.Bytes(row, 10));
  ASSIGN_OR_RETURN(r.version, rows.Int(row, 11));
  r.owner = rows.Text(row, 12);
  ASSIGN_OR_RETURN(r.lease_epoch, rows.Int(row, 13));
  r.irreversible = rows.Text(row, 14) == "t";
  r.cancel_requested = rows.Text(row, 15) == "t";
  return r;
}

// What Update writes (all but the version).
bool SameContent(const OperationRecord& a, const OperationRecord& b) {
  return a.state == b.state && a.cvm_id == b.cvm_id && a.update_time == b.update_time && a.operation == b.operation &&
         a.internal == b.internal && a.owner == b.owner && a.irreversible == b.irreversible;
}

// A stored row equal to `written` one version up is that write.
bool SameWrite(const OperationRecord& stored, const OperationRecord& written) {
  return stored.version == written.version + 1 && SameContent(stored, written);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresJournal>> PostgresJournal::Open(const platform::postgres::Dsn& dsn,
                                                                       const PostgresJournalOptions& options) {
  platform::postgres::PoolOptions pool_options;
  pool_options.max_connections = options.pool_size > 0 ? options.pool_size : 8;
  pool_options.connect.application_name = "onchain-kms-orchestrator";
  ASSIGN_OR_RETURN(std::unique_ptr<platform::postgres::Pool> pool, platform::postgres::Pool::Create(dsn, pool_options));
  {
    ASSIGN_OR_RETURN(platform::postgres::Pool::Lease conn, pool->Acquire(absl::Now() + options.acquire_timeout));
    RETURN_IF_ERROR(Context(platform::postgres::ApplySchema(
                                *conn, kSchemaName, {kSchemaV1, PostgresChangeFeed::kSchemaV2, kSchemaV3, kSchemaV4}),
                            "schema"));
  }
  return std::unique_ptr<PostgresJournal>(
      new PostgresJournal(std::move(pool), absl::StrCat("postgres ", dsn.description()), options));
}

absl::StatusOr<Result> PostgresJournal::Run(absl::string_view what, absl::string_view sql,
                                            absl::Span<const Param> params) {
  absl::StatusOr<platform::postgres::Pool::Lease> conn = pool_->Acquire(absl::Now() + options_.acquire_timeout);
  if (!conn.ok()) {
    // No connection at all (every one busy, or none can be opened): nothing was written.
    return Context(absl::UnavailableError(conn.status().message()), what);
  }
  absl::StatusOr<Result> rows = (*conn)->Execute(sql, params);
  if (!rows.ok()) return Context(rows.status(), what);
  return rows;
}

absl::StatusOr<std::vector<OperationRecord>> PostgresJournal::Select(absl::string_view what, absl::string_view sql,
                                                                     absl::Span<const Param> params) {
  ASSIGN_OR_RETURN(const Result rows, Run(what, sql, params));
  std::vector<OperationRecord> out;
  out.reserve(static_cast<size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) {
    absl::StatusOr<OperationRecord> r = ReadRecord(rows, i);
    if (!r.ok()) return Context(r.status(), what);
    out.push_back(*std::move(r));
  }
  return out;
}

absl::StatusOr<std::optional<OperationRecord>> PostgresJournal::FindOne(absl::string_view what, absl::string_view where,
                                                                        absl::Span<const Param> params) {
  ASSIGN_OR_RETURN(std::vector<OperationRecord> found,
                   Select(what, absl::StrCat("SELECT ", kColumns, " FROM operations WHERE ", where), params));
  if (found.empty()) return std::optional<OperationRecord>();
  return std::optional<OperationRecord>(std::move(found.front()));
}

absl::StatusOr<CreateResult> PostgresJournal::Create(const OperationRecord& record) {
  const Param params[] = {Param::Text(record.id),
                          Param::Text(record.caller),
                          Param::Text(record.request_id),
                          Param::Int(record.kind),
                          Param::Int(record.state),
                          Param::Text(record.cvm_id),
                          Param::Int(Micros(record.create_time)),
                          Param::Int(Micros(record.update_time)),
                          Param::Text(record.request_digest),
                          Param::Bytes(record.operation),
                          Param::Bytes(record.internal),
                          Param::Text(record.owner)};
  absl::StatusOr<Result> inserted = Run("create", kInsert, params);
  if (inserted.ok() && inserted->rows() == 1) {
    CreateResult out{record, true};
    out.record.version = 1;
    out.record.lease_epoch = 1;
    out.record.lease_expires = absl::UnixEpoch();
    Hold({out.record});
    return out;
  }
  if (absl::IsAlreadyExists(inserted.status())) {
    return absl::AlreadyExistsError(absl::StrCat("journal: operation id ", record.id, " exists"));
  }
  if (!inserted.ok() && !absl::IsUnavailable(inserted.status())) return inserted.status();
  // Nothing inserted, or the answer was lost: whoever holds (caller, request_id) now.
  const bool lost = !inserted.ok();
  const Param key[] = {Param::Text(record.caller), Param::Text(record.request_id)};
  absl::StatusOr<std::optional<OperationRecord>> stored = FindOne("create", "caller = $1 AND request_id = $2", key);
  if (lost && (!stored.ok() || !stored->has_value())) {
    if (!stored.ok()) Remember(record, /*create=*/true);
    return inserted.status();  // not written, or not known: a repeat of this call tells
  }
  RETURN_IF_ERROR(stored.status());
  // The row that made the INSERT do nothing is committed and never deleted.
  if (!stored->has_value()) return absl::InternalError("journal: create: no row and no conflicting row");
  bool ours = (*stored)->id == record.id && lost;
  for (const OperationRecord& w : Forget(record.id)) ours |= (*stored)->id == record.id && w.version == 0;
  if (ours) Hold({**stored});
  return CreateResult{**std::move(stored), ours};
}

void PostgresJournal::Remember(const OperationRecord& write, bool create) {
  OperationRecord kept = write;
  if (create) kept.version = 0;
  absl::MutexLock l(&mu_);
  std::vector<OperationRecord>& writes = uncertain_[write.id];
  for (const OperationRecord& w : writes) {
    if (w.version == kept.version && SameContent(w, kept)) return;  // a repeat of it
  }
  writes.push_back(std::move(kept));
}

std::vector<OperationRecord> PostgresJournal::Forget(absl::string_view id) {
  absl::MutexLock l(&mu_);
  auto it = uncertain_.find(id);
  if (it == uncertain_.end()) return {};
  std::vector<OperationRecord> writes = std::move(it->second);
  uncertain_.erase(it);
  return writes;
}

absl::StatusOr<OperationRecord> PostgresJournal::Get(absl::string_view id) {
  const Param params[] = {Param::Text(id)};
  ASSIGN_OR_RETURN(std::optional<OperationRecord> r, FindOne("get", "id = $1", params));
  if (!r.has_value()) return absl::NotFoundError(absl::StrCat("operation ", id, " not found"));
  return *std::move(r);
}

absl::StatusOr<std::optional<OperationRecord>> PostgresJournal::FindByRequestId(absl::string_view caller,
                                                                                absl::string_view request_id) {
  const Param params[] = {Param::Text(caller), Param::Text(request_id)};
  return FindOne("find", "caller = $1 AND request_id = $2", params);
}

absl::StatusOr<int64_t> PostgresJournal::Update(const OperationRecord& record, const UpdateOptions& options) {
  const ReplicaLease me = Me();
  const Param params[] = {Param::Text(record.id),         Param::Int(record.state),
                          Param::Text(record.cvm_id),     Param::Int(Micros(record.update_time)),
                          Param::Bytes(record.operation), Param::Bytes(record.internal),
                          Param::Text(record.owner),      Param::Int(record.version),
                          Bool(record.irreversible),      Param::Text(me.boot_id),
                          Param::Int(record.lease_epoch)};
  absl::StatusOr<Result> updated;
  if (options.events.empty() && options.artifacts.empty() && options.owners.empty()) {
    updated = Run("update", kUpdate, params);
  } else {
    RETURN_IF_ERROR(CheckUpdateOptions(record, options));
    std::vector<Param> all(std::begin(params), std::end(params));
    const std::string sql = UpdateWith(options, all);
    updated = Run("update", sql, all);
  }
  if (!updated.ok()) {
    // The commit may have happened and only its answer been lost.
    if (absl::IsUnavailable(updated.status())) Remember(record, /*create=*/false);
    return updated.status();
  }
  if (updated->rows() == 1) {
    Forget(record.id);
    if (IsTerminalState(record.state)) {
      absl::MutexLock l(&mu_);
      held_.erase(record.id);  // nothing more is written for it
    }
    return updated->Int(0, 0);
  }
  return UpdateMissed(record, options);
}

absl::StatusOr<int64_t> PostgresJournal::UpdateMissed(const OperationRecord& record, const UpdateOptions& options) {
  const Param id[] = {Param::Text(record.id)};
  ASSIGN_OR_RETURN(std::optional<OperationRecord> stored, FindOne("update", "id = $1", id));
  if (!stored.has_value()) return absl::NotFoundError(absl::StrCat("operation ", record.id, " not found"));
  RETURN_IF_ERROR(FenceRefusal(*stored, record));
  const std::vector<OperationRecord> lost = Forget(record.id);
  auto found = std::find_if(lost.begin(), lost.end(), [&](const OperationRecord& w) { return SameWrite(*stored, w); });
  if (found != lost.end()) {
    // The row is a write of ours that failed UNAVAILABLE but did commit. This one repeats it: done.
    if (SameContent(*stored, record)) return stored->version;
    // The caller went on from before it, as if it had not been written (journal.h): this write
    // replaces it.
    if (found->version == record.version) {
      OperationRecord next = record;
      next.version = stored->version;
      absl::StatusOr<int64_t> replaced = Update(next, options);
      if (absl::IsUnavailable(replaced.status())) {
        for (const OperationRecord& w : lost) Remember(w, w.version == 0);
      }
      return replaced;
    }
  }
  return absl::AbortedError(absl::StrCat("journal: operation ", record.id, " changed meanwhile (version ",
                                         stored->version, ", expected ", record.version, ")"));
}

absl::StatusOr<std::vector<OperationRecord>> PostgresJournal::List(const ListQuery& query) {
  // Every filter is always bound; an unused one is neutralised in SQL, so one prepared statement
  // serves every query.
  const std::string sql = absl::StrCat(
      "SELECT ", kColumns,
      " FROM operations WHERE ($1 = 0 OR kind = $1) AND ($2 = 0 OR state = $2) AND ($3 = '' OR cvm_id = $3) "
      "AND (NOT $4 OR create_time_us < $5 OR (create_time_us = $5 AND id < $6)) "
      "AND (NOT $8 OR caller = ANY($9::text[])) "
      "ORDER BY create_time_us DESC, id DESC LIMIT $7");
  const bool paged = query.after.has_value();
  const bool by_caller = query.callers.has_value();
  const Param params[] = {Param::Int(query.kind),
                          Param::Int(query.state),
                          Param::Text(query.cvm_id),
                          Param::Text(paged ? "true" : "false"),
                          Param::Int(paged ? Micros(query.after->create_time) : 0),
                          Param::Text(paged ? query.after->id : ""),
                          Param::Int(static_cast<int64_t>(query.limit)),
                          Bool(by_caller),
                          Param::Text(TextArray(by_caller ? *query.callers : std::vector<std::string>{}))};
  return Select("list", sql, params);
}

absl::StatusOr<std::vector<OperationRecord>> PostgresJournal::ListUnfinished() {
  return Select(
      "list unfinished",
      absl::StrCat("SELECT ", kColumns, " FROM operations WHERE state IN (1, 2, 3, 7) ORDER BY create_time_us, id"),
      {});
}

absl::Status PostgresJournal::PutArtifact(absl::string_view operation_id, absl::string_view key,
                                          absl::string_view value) {
  const ReplicaLease me = Me();
  if (!me.replica_id.empty()) {
    int64_t epoch = 0;
    {
      absl::MutexLock l(&mu_);
      auto it = held_.find(operation_id);
      if (it == held_.end()) return LeaseLostError(absl::StrCat("operation ", operation_id, " is not held here"));
      epoch = it->second;
    }
    const Param params[] = {Param::Text(operation_id),       Param::Text(key),           Param::Bytes(value),
                            Param::Int(Micros(absl::Now())), Param::Text(me.replica_id), Param::Int(epoch),
                            Param::Text(me.boot_id)};
    ASSIGN_OR_RETURN(const Result rows, Run("put artifact", kPutArtifactFenced, params));
    if (rows.rows() == 1) return absl::OkStatus();
    OperationRecord write;
    write.id = std::string(operation_id);
    write.owner = me.replica_id;
    write.lease_epoch = epoch;
    const Param id[] = {Param::Text(operation_id)};
    ASSIGN_OR_RETURN(std::optional<OperationRecord> stored, FindOne("put artifact", "id = $1", id));
    if (!stored.has_value()) return absl::NotFoundError(absl::StrCat("operation ", operation_id, " not found"));
    RETURN_IF_ERROR(FenceRefusal(*stored, write));
    return LeaseLostError(absl::StrCat("operation ", operation_id, " was taken over by another replica"));
  }
  const Param params[] = {Param::Text(operation_id), Param::Text(key), Param::Bytes(value),
                          Param::Int(Micros(absl::Now()))};
  return Run("put artifact", kPutArtifact, params).status();
}

absl::StatusOr<std::optional<std::string>> PostgresJournal::GetArtifact(absl::string_view operation_id,
                                                                        absl::string_view key) {
  const Param params[] = {Param::Text(operation_id), Param::Text(key)};
  ASSIGN_OR_RETURN(const Result rows,
                   Run("get artifact", "SELECT value FROM artifacts WHERE operation_id = $1 AND key = $2", params));
  if (rows.rows() == 0) return std::optional<std::string>();
  ASSIGN_OR_RETURN(std::string value, rows.Bytes(0, 0));
  return std::optional<std::string>(std::move(value));
}

absl::StatusOr<std::map<std::string, std::string>> PostgresJournal::ListArtifacts(absl::string_view operation_id,
                                                                                  absl::string_view prefix) {
  const Param params[] = {Param::Text(operation_id), Param::Text(prefix)};
  ASSIGN_OR_RETURN(const Result rows, Run("list artifacts",
                                          "SELECT key, value FROM artifacts WHERE operation_id = $1 "
                                          "AND starts_with(key, $2) ORDER BY key",
                                          params));
  std::map<std::string, std::string> out;
  for (int i = 0; i < rows.rows(); ++i) {
    ASSIGN_OR_RETURN(out[rows.Text(i, 0)], rows.Bytes(i, 1));
  }
  return out;
}

absl::Status PostgresJournal::Ping() {
  ASSIGN_OR_RETURN(const Result rows, Run("ping", "SELECT current_setting('transaction_read_only')", {}));
  if (rows.Text(0, 0) == "on") {
    return absl::UnavailableError(absl::StrCat("journal: ping: ", description_, " is read-only (a standby?)"));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Ownership (docs/design/postgres-replicas.md § 4.2).

ReplicaLease PostgresJournal::Me() const {
  absl::MutexLock l(&mu_);
  return me_;
}

std::vector<OperationRecord> PostgresJournal::Hold(std::vector<OperationRecord> records) {
  absl::MutexLock l(&mu_);
  if (me_.replica_id.empty()) return records;
  for (const OperationRecord& r : records) held_[r.id] = r.lease_epoch;
  return records;
}

absl::Status PostgresJournal::FenceRefusal(const OperationRecord& stored, const OperationRecord& write) {
  const ReplicaLease me = Me();
  if (me.replica_id.empty()) return absl::OkStatus();
  if (stored.owner != write.owner || stored.lease_epoch != write.lease_epoch) {
    {
      absl::MutexLock l(&mu_);
      held_.erase(write.id);
    }
    Forget(write.id);
    return LeaseLostError(absl::StrCat("operation ", write.id, " is owned by replica '", stored.owner, "' epoch ",
                                       stored.lease_epoch, " (this write: '", write.owner, "' epoch ",
                                       write.lease_epoch, ")"));
  }
  const Param params[] = {Param::Text(write.owner), Param::Text(me.boot_id)};
  ASSIGN_OR_RETURN(const Result live,
                   Run("update", "SELECT 1 FROM replicas WHERE id = $1 AND boot_id = $2 AND expires > now()", params));
  // Still ours, but the lease ran out and nobody took the operation over yet: not written; the
  // next heartbeat renews the lease (or another replica claims it, and then it is lost).
  if (live.rows() == 0) {
    return absl::UnavailableError(absl::StrCat("journal: operation ", write.id, ": the lease of replica '", write.owner,
                                               "' is not live; not written"));
  }
  if (write.irreversible && !stored.irreversible && stored.cancel_requested && stored.version == write.version) {
    return CancelRequestedError(write.id);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<OperationFence>> PostgresJournal::FenceFor(absl::string_view id) const {
  absl::MutexLock l(&mu_);
  if (me_.replica_id.empty()) return std::optional<OperationFence>();
  auto it = held_.find(id);
  if (it == held_.end()) return LeaseLostError(absl::StrCat("operation ", id, " is not held here"));
  return std::optional<OperationFence>(OperationFence{me_.replica_id, me_.boot_id, it->second});
}

absl::Status PostgresJournal::Register(const ReplicaLease& lease) {
  if (lease.replica_id.empty() || lease.boot_id.empty() || lease.ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("journal: register: replica id, boot id and a positive ttl are required");
  }
  const Param params[] = {Param::Text(lease.replica_id), Param::Text(lease.boot_id),
                          Param::Int(absl::ToInt64Microseconds(lease.ttl))};
  // A live row of another boot keeps the id: two processes must never share one.
  ASSIGN_OR_RETURN(const Result rows,
                   Run("register",
                       "INSERT INTO replicas (id, boot_id, expires) VALUES ($1, $2, now() + $3::bigint * interval "
                       "'1 microsecond') ON CONFLICT (id) DO UPDATE SET boot_id = EXCLUDED.boot_id, started_at = "
                       "now(), heartbeat_at = now(), expires = EXCLUDED.expires WHERE replicas.expires < now() OR "
                       "replicas.boot_id = EXCLUDED.boot_id RETURNING id",
                       params));
  if (rows.rows() == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("journal: replica id '", lease.replica_id, "' is held by another live orchestrator process"));
  }
  absl::MutexLock l(&mu_);
  me_ = lease;
  return absl::OkStatus();
}

absl::Status PostgresJournal::Heartbeat() {
  const ReplicaLease me = Me();
  if (me.replica_id.empty()) return absl::FailedPreconditionError("journal: heartbeat before register");
  const Param params[] = {Param::Text(me.replica_id), Param::Text(me.boot_id),
                          Param::Int(absl::ToInt64Microseconds(me.ttl))};
  ASSIGN_OR_RETURN(const Result rows, Run("heartbeat",
                                          "UPDATE replicas SET heartbeat_at = now(), expires = now() + $3::bigint * "
                                          "interval '1 microsecond' WHERE id = $1 AND boot_id = $2 RETURNING 1",
                                          params));
  if (rows.rows() == 0) {
    return LeaseLostError(absl::StrCat("replica id '", me.replica_id, "' was registered by another process"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<OperationRecord>> PostgresJournal::ReclaimOwn() {
  const ReplicaLease me = Me();
  if (me.replica_id.empty()) return ListUnfinished();
  const Param params[] = {Param::Text(me.replica_id), Param::Text(me.boot_id)};
  // Waiting for input: nobody's, so that any replica may take the input.
  RETURN_IF_ERROR(
      Run("reclaim", "UPDATE operations SET owner = '' WHERE owner = $1 AND state = 3", absl::MakeConstSpan(params, 1))
          .status());
  ASSIGN_OR_RETURN(std::vector<OperationRecord> mine,
                   Select("reclaim",
                          absl::StrCat("UPDATE operations o SET lease_epoch = o.lease_epoch + 1 WHERE o.owner = $1 "
                                       "AND o.state IN (1, 2, 7) AND EXISTS (SELECT 1 FROM replicas r WHERE r.id = $1 "
                                       "AND r.boot_id = $2) RETURNING ",
                                       kColumnsOfO),
                          params));
  return Hold(Oldest(std::move(mine)));
}

absl::StatusOr<std::vector<OperationRecord>> PostgresJournal::Claim(size_t max) {
  const ReplicaLease me = Me();
  if (me.replica_id.empty()) return absl::FailedPreconditionError("journal: claim before register");
  if (max == 0) return std::vector<OperationRecord>();
  RETURN_IF_ERROR(Run("claim", kReleaseDeadWaiting, {}).status());
  const Param params[] = {Param::Text(me.replica_id), Param::Text(me.boot_id), Param::Int(static_cast<int64_t>(max))};
  ASSIGN_OR_RETURN(std::vector<OperationRecord> claimed, Select("claim", absl::StrCat(kClaim, kColumnsOfO), params));
  return Hold(Oldest(std::move(claimed)));
}

absl::StatusOr<std::optional<OperationRecord>> PostgresJournal::ClaimOne(absl::string_view id,
                                                                         std::vector<int> states) {
  const ReplicaLease me = Me();
  if (me.replica_id.empty()) return absl::FailedPreconditionError("journal: claim before register");
  const Param params[] = {Param::Text(id), Param::Text(me.replica_id), Param::Text(me.boot_id),
                          Param::Text(absl::StrCat("{", absl::StrJoin(states, ","), "}"))};
  ASSIGN_OR_RETURN(std::vector<OperationRecord> claimed,
                   Select("claim one", absl::StrCat(kClaimOne, kColumnsOfO), params));
  if (claimed.empty()) {
    RETURN_IF_ERROR(Get(id).status());  // NOT_FOUND
    return std::optional<OperationRecord>();
  }
  return std::optional<OperationRecord>(Hold(std::move(claimed)).front());
}

absl::Status PostgresJournal::Release(const OperationRecord& held) {
  const ReplicaLease me = Me();
  if (me.replica_id.empty()) return absl::OkStatus();
  {
    absl::MutexLock l(&mu_);
    held_.erase(held.id);
  }
  const Param params[] = {Param::Text(held.id), Param::Text(held.owner), Param::Int(held.lease_epoch)};
  ASSIGN_OR_RETURN(const Result rows, Run("release",
                                          "UPDATE operations SET owner = '' WHERE id = $1 AND owner = $2 AND "
                                          "lease_epoch = $3::bigint RETURNING 1",
                                          params));
  if (rows.rows() == 0) return LeaseLostError(absl::StrCat("operation ", held.id, " was not held any more"));
  return absl::OkStatus();
}

absl::Status PostgresJournal::ReleaseAll() {
  const ReplicaLease me = Me();
  if (me.replica_id.empty()) return absl::OkStatus();
  const Param params[] = {Param::Text(me.replica_id), Param::Text(me.boot_id)};
  RETURN_IF_ERROR(Run("release all",
                      "UPDATE operations SET owner = '' WHERE owner = $1 AND state IN (1, 2, 3, 7) AND EXISTS "
                      "(SELECT 1 FROM replicas r WHERE r.id = $1 AND r.boot_id = $2)",
                      params)
                      .status());
  RETURN_IF_ERROR(Run("release all", "DELETE FROM replicas WHERE id = $1 AND boot_id = $2", params).status());
  absl::MutexLock l(&mu_);
  held_.clear();
  me_ = ReplicaLease{};
  return absl::OkStatus();
}

absl::StatusOr<bool> PostgresJournal::RequestCancel(absl::string_view id) {
  const Param params[] = {Param::Text(id)};
  ASSIGN_OR_RETURN(const Result rows, Run("request cancel",
                                          "UPDATE operations SET cancel_requested = true WHERE id = $1 AND "
                                          "((state IN (1, 2, 3) AND NOT irreversible) OR state = 7) RETURNING 1",
                                          params));
  if (rows.rows() == 1) return true;
  RETURN_IF_ERROR(Get(id).status());  // NOT_FOUND
  return false;
}

absl::StatusOr<std::vector<std::string>> PostgresJournal::CancelsRequested() {
  const ReplicaLease me = Me();
  if (me.replica_id.empty()) return std::vector<std::string>();
  const Param params[] = {Param::Text(me.replica_id)};
  ASSIGN_OR_RETURN(const Result rows, Run("cancels requested",
                                          "SELECT id FROM operations WHERE owner = $1 AND cancel_requested AND "
                                          "state IN (1, 2, 3, 7) ORDER BY create_time_us, id",
                                          params));
  std::vector<std::string> ids;
  for (int i = 0; i < rows.rows(); ++i) ids.push_back(rows.Text(i, 0));
  return ids;
}

}  // namespace orchestrator::journal
