#include "platform/sqlite/schema.h"

#include "absl/strings/str_cat.h"
#include "platform/schema_version.h"
#include "platform/sqlite/transaction.h"
#include "platform/status_macros.h"

namespace platform::sqlite {

absl::StatusOr<int64_t> UserVersion(Database& db) {
  ASSIGN_OR_RETURN(Statement st, db.Prepare("PRAGMA user_version"));
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return absl::InternalError("PRAGMA user_version returned no row");
  return st.ColumnInt(0);
}

absl::Status ApplySchema(Database& db, absl::Span<const absl::string_view> migrations) {
  ASSIGN_OR_RETURN(int64_t version, UserVersion(db));
  const auto known = static_cast<int64_t>(migrations.size());
  RETURN_IF_ERROR(CheckSchemaVersion(db.path(), version, known));
  for (; version < known; ++version) {
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
    RETURN_IF_ERROR(db.Exec(migrations[static_cast<size_t>(version)]));
    // PRAGMA takes no parameters; the value is our own integer.
    RETURN_IF_ERROR(db.Exec(absl::StrCat("PRAGMA user_version = ", version + 1)));
    RETURN_IF_ERROR(txn.Commit());
  }
  return absl::OkStatus();
}

}  // namespace platform::sqlite
