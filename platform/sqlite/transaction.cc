#include "platform/sqlite/transaction.h"

#include <utility>

namespace platform::sqlite {

absl::StatusOr<Transaction> Transaction::Begin(Database& db) {
  if (absl::Status s = db.Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() { Rollback(); }

absl::Status Transaction::Commit() {
  if (db_ == nullptr) return absl::FailedPreconditionError("commit: the transaction is over");
  absl::Status s = db_->Exec("COMMIT");
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
  (void)db_->Exec("ROLLBACK");
  db_ = nullptr;
}

}  // namespace platform::sqlite
