// SQLite result codes as absl::Status. The message is "<what>: <SQLite's message>": SQLite's
// messages name tables and columns, never bound values (which may be secrets).
#ifndef ONCHAIN_KMS_PLATFORM_SQLITE_ERROR_H_
#define ONCHAIN_KMS_PLATFORM_SQLITE_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

struct sqlite3;

namespace platform::sqlite {

// The last error on `db`: UNAVAILABLE when retrying may help (busy, locked, I/O error, disk
// full, cannot open), ALREADY_EXISTS for a primary-key or unique constraint, INTERNAL otherwise.
absl::Status LastError(sqlite3* db, absl::string_view what);

// The same classification for a result code that is not the connection's last error.
absl::Status ErrorFromCode(int extended_code, absl::string_view what, absl::string_view message);

}  // namespace platform::sqlite

#endif  // ONCHAIN_KMS_PLATFORM_SQLITE_ERROR_H_
