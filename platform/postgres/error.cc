#include "platform/postgres/error.h"

#include <postgresql/libpq-fe.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "platform/postgres/dsn.h"

namespace platform::postgres {
namespace {

std::string Trimmed(const char* message) {
  if (message == nullptr) return "";
  return std::string(absl::StripTrailingAsciiWhitespace(message));
}

}  // namespace

absl::StatusCode CodeForSqlState(absl::string_view sqlstate) {
  if (sqlstate == "40001" || sqlstate == "40P01") return absl::StatusCode::kAborted;
  if (sqlstate == "23505") return absl::StatusCode::kAlreadyExists;
  if (sqlstate == "57014") return absl::StatusCode::kDeadlineExceeded;
  if (sqlstate == "3D000") return absl::StatusCode::kFailedPrecondition;
  // A bind message that does not fit the statement (e.g. the wrong number of parameters): our bug,
  // not the connection's, although it is filed under class 08.
  if (sqlstate == "08P01") return absl::StatusCode::kInternal;
  // 55P03: lock_timeout ran out waiting for a row lock held elsewhere; try again later.
  if (sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" || sqlstate == "25006" || sqlstate == "40003" ||
      sqlstate == "55P03") {
    return absl::StatusCode::kUnavailable;
  }
  const absl::string_view sqlclass = sqlstate.substr(0, 2);
  if (sqlclass == "08" || sqlclass == "53") return absl::StatusCode::kUnavailable;
  if (sqlclass == "23") return absl::StatusCode::kFailedPrecondition;
  if (sqlclass == "28") return absl::StatusCode::kUnauthenticated;
  if (sqlclass == "22") return absl::StatusCode::kInvalidArgument;
  return absl::StatusCode::kInternal;
}

absl::Status CommandError(const pg_conn* conn, const pg_result* result, absl::string_view what) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  if (state == nullptr) {
    // No SQLSTATE: libpq's own failure, typically the connection going away under the command.
    const std::string message = Trimmed(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn));
    const bool gone = PQstatus(conn) != CONNECTION_OK;
    return absl::Status(gone ? absl::StatusCode::kUnavailable : absl::StatusCode::kInternal,
                        absl::StrCat(what, ": ", message.empty() ? "no result" : message));
  }
  const absl::StatusCode code = CodeForSqlState(state);
  const std::string primary = code == absl::StatusCode::kInvalidArgument
                                  ? "invalid data"
                                  : Trimmed(PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY));
  return absl::Status(code, absl::StrCat(what, ": ", primary, " (SQLSTATE ", state, ")"));
}

absl::Status ConnectError(const pg_conn* conn, const Dsn& dsn) {
  const std::string what = absl::StrCat("postgres ", dsn.description(), ": connect");
  if (conn == nullptr) return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory"));
  const std::string message = dsn.Redact(Trimmed(PQerrorMessage(conn)));
  if (PQconnectionNeedsPassword(conn)) {
    return absl::UnauthenticatedError(absl::StrCat(what, ": the server wants a password and the DSN has none"));
  }
  // The server's reason travels as text only; these are its (English) messages.
  if (absl::StrContains(message, "authentication failed")) {
    return absl::UnauthenticatedError(absl::StrCat(what, ": the server refused the user or password: ", message));
  }
  if (absl::StrContains(message, "does not exist"))
    return absl::FailedPreconditionError(absl::StrCat(what, ": ", message));
  return absl::UnavailableError(absl::StrCat(what, ": ", message));
}

}  // namespace platform::postgres
