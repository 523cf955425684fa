#include "platform/postgres/transaction.h"

#include <postgresql/libpq-fe.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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
  conn->in_transaction_ = false;
  if (!conn->Alive()) {
    return absl::UnavailableError(
        absl::StrCat(conn->description(), ": commit: the connection was lost; the server rolled the transaction back"));
  }
  PGresult* answer = PQexec(conn->conn_, "COMMIT");
  const bool answered = PQresultStatus(answer) == PGRES_COMMAND_OK ||
                        (answer != nullptr && PQresultErrorField(answer, PG_DIAG_SQLSTATE) != nullptr);
  absl::StatusOr<Result> result = conn->Checked(answer, "commit");
  if (!answered) {
    return absl::UnknownError(absl::StrCat(conn->description(), ": commit: ", result.status().message(),
                                           "; the transaction may or may not have committed"));
  }
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

namespace {

absl::Status Attempt(Connection& conn, Isolation isolation, absl::FunctionRef<absl::Status(Connection&)> body) {
  ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, isolation));
  RETURN_IF_ERROR(body(conn));
  return txn.Commit();
}

}  // namespace

absl::Status RunTransaction(Connection& conn, Isolation isolation, absl::Time deadline,
                            absl::FunctionRef<absl::Status(Connection&)> body) {
  absl::Duration backoff = absl::Milliseconds(10);
  for (;;) {
    absl::Status status = Attempt(conn, isolation, body);
    const bool retry = status.code() == absl::StatusCode::kAborted || status.code() == absl::StatusCode::kUnavailable;
    if (!retry || absl::Now() + backoff > deadline) return status;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(1));
  }
}

}  // namespace platform::postgres
