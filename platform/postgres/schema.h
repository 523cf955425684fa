// Schema creation and versioning in the table platform_schema_versions (schema name -> version),
// so one database can hold several programs' schemas. `migrations[i]` takes a schema from
// version i to i + 1, each in its own transaction with the version bump. Replicas starting at
// once are serialized by a transaction-scoped advisory lock: exactly one runs each migration,
// the others then find it done. A schema newer than the program (version > migrations.size())
// is refused with FAILED_PRECONDITION naming both versions, and nothing is written.
#ifndef ONCHAIN_KMS_PLATFORM_POSTGRES_SCHEMA_H_
#define ONCHAIN_KMS_PLATFORM_POSTGRES_SCHEMA_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "platform/postgres/connection.h"

namespace platform::postgres {

// 0 for a schema (or a database) never migrated.
absl::StatusOr<int64_t> SchemaVersion(Connection& conn, absl::string_view schema);

// Applies the migrations `schema` has not seen yet. Call it outside a transaction.
absl::Status ApplySchema(Connection& conn, absl::string_view schema, absl::Span<const absl::string_view> migrations);

}  // namespace platform::postgres

#endif  // ONCHAIN_KMS_PLATFORM_POSTGRES_SCHEMA_H_
