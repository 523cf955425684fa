#include "platform/sqlite/transaction.h"

#include <utility>

#include "absl/strings/string_view.h"
#include "platform/sqlite/statement.h"
#include "platform/status_macros.h"

namespace platform::sqlite {

// BEGIN/COMMIT/ROLLBACK run per transaction, i.e. per journal batch: kept compiled with the
// connection instead of being parsed by sqlite3_exec every time.
absl::StatusOr<Transaction> Transaction::Begin(Database& db) {
  RETURN_IF_ERROR(db.RunCached("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() { Rollback(); }

absl::Status Transaction::Commit() {
  if (db_ == nullptr) return absl::FailedPreconditionError("commit: the transaction is over");
  absl::Status s = db_->RunCached("COMMIT");
  if (!s.ok()) {
    Rollback();
    return s;
  }
  db_ = nullptr;
  return absl::OkStatus();
}

void Transaction::Rollback() {
  if (db_ == nullptr) return;
  // Fails harmlessly when SQLite already rolled back on its own (e.g. after a full disk).
  (void)db_->RunCached("ROLLBACK");
  db_ = nullptr;
}

}  // namespace platform::sqlite
