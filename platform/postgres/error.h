// PostgreSQL failures as absl::Status, by SQLSTATE, so callers can tell "retry" from "bug":
//   UNAVAILABLE       the server cannot be reached or is going away (class 08 but 08P01, 57P01-57P03,
//                     class 53, a read-only standby 25006), a lock wait past lock_timeout
//                     (55P03), or the connection was lost;
//   ABORTED           the transaction lost a race and may be run again (40001, 40P01);
//   ALREADY_EXISTS    a unique or primary-key constraint (23505);
//   FAILED_PRECONDITION another integrity constraint (class 23), a missing database (3D000);
//   UNAUTHENTICATED   the server refused the role or password (class 28);
//   DEADLINE_EXCEEDED a statement timeout or cancel (57014);
//   INVALID_ARGUMENT  bad data (class 22); INTERNAL anything else (a bug in our SQL).
// Messages carry the server's primary message and the SQLSTATE, never its DETAIL (which quotes
// row values); for class 22 not even the primary message, which may quote the bad value.
#ifndef ONCHAIN_KMS_PLATFORM_POSTGRES_ERROR_H_
#define ONCHAIN_KMS_PLATFORM_POSTGRES_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

struct pg_conn;
struct pg_result;

namespace platform::postgres {

class Dsn;

absl::StatusCode CodeForSqlState(absl::string_view sqlstate);

// The error of a failed command: `what` names the database and the step. `result` may be null
// (libpq could not even build a result); a result without SQLSTATE on a connection that is gone
// is UNAVAILABLE.
absl::Status CommandError(const pg_conn* conn, const pg_result* result, absl::string_view what);

// A failed connection attempt (libpq gives no SQLSTATE for those): UNAUTHENTICATED when the
// server refused the password or wants one the DSN lacks, FAILED_PRECONDITION for a missing
// database or role, UNAVAILABLE otherwise (no server, refused, timed out, starting up). The
// message names `dsn.description()` and libpq's text with the password redacted.
absl::Status ConnectError(const pg_conn* conn, const Dsn& dsn);

}  // namespace platform::postgres

#endif  // ONCHAIN_KMS_PLATFORM_POSTGRES_ERROR_H_
