// PostgresJournal: the owners of CVMs and apps (journal.h, resource_owner.h), each call one
// autocommit statement. A RecordOwner whose answer was lost is repeated by its caller and then
// finds its own row (same tenant: OK).
#include "absl/strings/str_cat.h"
#include "orchestrator/journal/error_context.h"
#include "orchestrator/journal/postgres_journal.h"
#include "platform/postgres/result.h"
#include "platform/status_macros.h"

namespace orchestrator::journal {
namespace {

using platform::postgres::Param;
using platform::postgres::Result;

// Reads (tenant, source, created_at_us) of `row`.
absl::StatusOr<ResourceOwner> ReadOwner(const Result& rows, int row, absl::string_view kind,
                                        absl::string_view resource) {
  ResourceOwner o{std::string(kind), std::string(resource), rows.Text(row, 0), rows.Text(row, 1), absl::UnixEpoch()};
  ASSIGN_OR_RETURN(const int64_t created_us, rows.Int(row, 2));
  o.created_at = absl::FromUnixMicros(created_us);
  return o;
}

}  // namespace

absl::StatusOr<std::optional<ResourceOwner>> PostgresJournal::FindOwner(absl::string_view kind,
                                                                        absl::string_view resource) {
  const Param params[] = {Param::Text(kind), Param::Text(resource)};
  ASSIGN_OR_RETURN(const Result rows, Run("find owner",
                                          "SELECT tenant, source, created_at_us FROM resource_owners "
                                          "WHERE kind = $1 AND resource = $2",
                                          params));
  if (rows.rows() == 0) return std::optional<ResourceOwner>();
  ASSIGN_OR_RETURN(ResourceOwner o, Context(ReadOwner(rows, 0, kind, resource), "find owner"));
  return std::optional<ResourceOwner>(std::move(o));
}

absl::Status PostgresJournal::RecordOwner(const ResourceOwner& owner) {
  const Param params[] = {Param::Text(owner.kind), Param::Text(owner.resource), Param::Text(owner.tenant),
                          Param::Text(owner.source), Param::Int(absl::ToUnixMicros(owner.created_at))};
  ASSIGN_OR_RETURN(const Result inserted,
                   Run("record owner",
                       "INSERT INTO resource_owners (kind, resource, tenant, source, created_at_us) "
                       "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, resource) DO NOTHING RETURNING 1",
                       params));
  if (inserted.rows() == 1) return absl::OkStatus();
  // The row that made the INSERT do nothing is committed (owners are never deleted).
  ASSIGN_OR_RETURN(const std::optional<ResourceOwner> stored, FindOwner(owner.kind, owner.resource));
  if (stored.has_value() && stored->tenant == owner.tenant) return absl::OkStatus();
  return absl::AlreadyExistsError(
      absl::StrCat("journal: ", owner.kind, " ", owner.resource, " is owned by another tenant"));
}

absl::StatusOr<AdoptResult> PostgresJournal::AdoptResource(const ResourceOwner& owner) {
  const Param params[] = {Param::Text(owner.kind), Param::Text(owner.resource), Param::Text(owner.tenant),
                          Param::Text(owner.source), Param::Int(absl::ToUnixMicros(owner.created_at))};
  // The previous row is read under the row lock the upsert then takes, so of two adopts of an
  // owned resource at once the second reports the first's owner. A data-modifying WITH runs
  // even though the outer SELECT does not read it.
  ASSIGN_OR_RETURN(const Result rows,
                   Run("adopt",
                       "WITH prev AS (SELECT tenant, source, created_at_us FROM resource_owners WHERE kind = $1 AND "
                       "resource = $2 FOR UPDATE), up AS (INSERT INTO resource_owners (kind, resource, tenant, "
                       "source, created_at_us) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, resource) DO UPDATE "
                       "SET tenant = EXCLUDED.tenant, source = EXCLUDED.source, created_at_us = "
                       "EXCLUDED.created_at_us RETURNING 1) SELECT tenant, source, created_at_us FROM prev",
                       params));
  AdoptResult out{owner, std::nullopt};
  if (rows.rows() == 1) {
    ASSIGN_OR_RETURN(out.previous, Context(ReadOwner(rows, 0, owner.kind, owner.resource), "adopt"));
  }
  return out;
}

}  // namespace orchestrator::journal
