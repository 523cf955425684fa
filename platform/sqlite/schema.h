// Schema creation and versioning with PRAGMA user_version: `migrations[i]` takes the database
// from version i to i + 1, each in its own transaction with the version bump. A file newer than
// the program (user_version > migrations.size()) is refused rather than written by code that does
// not know its shape. Files made before versioning have user_version 0, so migration 0 must be
// the original idempotent CREATE ... IF NOT EXISTS script.
#ifndef ONCHAIN_KMS_PLATFORM_SQLITE_SCHEMA_H_
#define ONCHAIN_KMS_PLATFORM_SQLITE_SCHEMA_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "platform/sqlite/database.h"

namespace platform::sqlite {

absl::StatusOr<int64_t> UserVersion(Database& db);

// Applies the migrations the file has not seen yet.
absl::Status ApplySchema(Database& db, absl::Span<const absl::string_view> migrations);

}  // namespace platform::sqlite

#endif  // ONCHAIN_KMS_PLATFORM_SQLITE_SCHEMA_H_
