#include "platform/sqlite/error.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"

namespace platform::sqlite {

absl::Status ErrorFromCode(int extended_code, absl::string_view what, absl::string_view message) {
  const std::string text = absl::StrCat(what, ": ", message);
  if (extended_code == SQLITE_CONSTRAINT_PRIMARYKEY || extended_code == SQLITE_CONSTRAINT_UNIQUE) {
    return absl::AlreadyExistsError(text);
  }
  switch (extended_code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
      return absl::UnavailableError(text);
    default:
      return absl::InternalError(text);
  }
}

absl::Status LastError(sqlite3* db, absl::string_view what) {
  if (db == nullptr) return absl::InternalError(absl::StrCat(what, ": no database handle"));
  return ErrorFromCode(sqlite3_extended_errcode(db), what, sqlite3_errmsg(db));
}

}  // namespace platform::sqlite
