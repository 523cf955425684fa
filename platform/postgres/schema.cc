#include "platform/postgres/schema.h"

#include "absl/strings/str_cat.h"
#include "platform/postgres/transaction.h"
#include "platform/schema_version.h"
#include "platform/status_macros.h"

namespace platform::postgres {
namespace {

// pg_advisory_xact_lock key: "okms" in ASCII, so other users of advisory locks can tell ours.
constexpr absl::string_view kLockMigrations = "SELECT pg_advisory_xact_lock(1869310323)";
constexpr absl::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS platform_schema_versions (schema TEXT PRIMARY KEY, version BIGINT NOT NULL)";
constexpr absl::string_view kSelectVersion = "SELECT version FROM platform_schema_versions WHERE schema = $1";

absl::StatusOr<int64_t> VersionIn(Connection& conn, absl::string_view schema) {
  ASSIGN_OR_RETURN(Result rows, conn.Execute(kSelectVersion, {Param::Text(schema)}));
  if (rows.rows() == 0) return 0;
  return rows.Int(0, 0);
}

// Runs migration number `version` if the schema is still at `version` once the lock is held;
// sets `*done` when there is nothing (left) to do.
absl::Status MigrateOnce(Connection& conn, absl::string_view schema, absl::Span<const absl::string_view> migrations,
                         bool* done) {
  ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn));
  RETURN_IF_ERROR(conn.Execute(kLockMigrations).status());
  RETURN_IF_ERROR(conn.Exec(kCreateTable));
  ASSIGN_OR_RETURN(const int64_t version, VersionIn(conn, schema));
  const auto known = static_cast<int64_t>(migrations.size());
  RETURN_IF_ERROR(CheckSchemaVersion(absl::StrCat(conn.description(), " schema ", schema), version, known));
  *done = version == known;
  if (*done) return absl::OkStatus();  // the rollback writes nothing
  RETURN_IF_ERROR(conn.Exec(migrations[static_cast<size_t>(version)]));
  RETURN_IF_ERROR(conn.Execute("INSERT INTO platform_schema_versions (schema, version) VALUES ($1, $2) "
                               "ON CONFLICT (schema) DO UPDATE SET version = EXCLUDED.version",
                               {Param::Text(schema), Param::Int(version + 1)})
                      .status());
  return txn.Commit();
}

}  // namespace

absl::StatusOr<int64_t> SchemaVersion(Connection& conn, absl::string_view schema) {
  ASSIGN_OR_RETURN(Result table, conn.Execute("SELECT to_regclass('platform_schema_versions') IS NOT NULL"));
  if (table.Text(0, 0) != "t") return 0;
  return VersionIn(conn, schema);
}

absl::Status ApplySchema(Connection& conn, absl::string_view schema, absl::Span<const absl::string_view> migrations) {
  for (bool done = false; !done;) RETURN_IF_ERROR(MigrateOnce(conn, schema, migrations, &done));
  return absl::OkStatus();
}

}  // namespace platform::postgres
