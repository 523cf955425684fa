#include "platform/postgres/transaction.h"

#include <postgresql/libpq-fe.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/status_macros.h"

namespace platform::postgres {
namespace {

const char* BeginSql(Isolation isolation) {
  switch (isolation) {
    case Isolation::kRepeatableRead:
      return "BEGIN ISOLATION LEVEL REPEATABLE READ";
    case Isolation::kSerializable:
      return "BEGIN ISOLATION LEVEL SERIALIZABLE";
    case Isolation::kReadCommitted:
      break;
  }
  return "BEGIN ISOLATION LEVEL READ COMMITTED";
}

}  // namespace

absl::StatusOr<Transaction> Transaction::Begin(Connection& conn, Isolation isolation) {
  if (conn.in_transaction_) {
    return absl::FailedPreconditionError(absl::StrCat(conn.description(), ": a transaction is already open"));
  }
  RETURN_IF_ERROR(conn.Exec(BeginSql(isolation)));
  conn.in_transaction_ = true;
  return Transaction(&conn);
}

Transaction::Transaction(Transaction&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}

Transaction::~Transaction() { Rollback(); }

absl::Status Transaction::Commit() {
  if (conn_ == nullptr) return absl::FailedPreconditionError("commit: the transaction is over");
  Connection* conn = std::exchange(conn_, nullptr);
  absl::StatusOr<Result> result = conn->Checked(PQexec(conn->conn_, "COMMIT"), "commit");
  conn->in_transaction_ = false;
  if (!result.ok()) return result.status();
  // COMMIT of a transaction in the failed state "succeeds" with the tag ROLLBACK.
  if (result->command_tag() != "COMMIT") {
    return absl::AbortedError(
        absl::StrCat(conn->description(), ": commit: the transaction had failed and was rolled back"));
  }
  return absl::OkStatus();
}

void Transaction::Rollback() {
  if (conn_ == nullptr) return;
  Connection* conn = std::exchange(conn_, nullptr);
  // On a lost connection the server has rolled back already; nothing to send.
  if (PQstatus(conn->conn_) == CONNECTION_OK) PQclear(PQexec(conn->conn_, "ROLLBACK"));
  conn->in_transaction_ = false;
}

}  // namespace platform::postgres
