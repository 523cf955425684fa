#include "platform/sqlite/statement.h"

#include <sqlite3.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/sqlite/error.h"

namespace platform::sqlite {
namespace {

// SQLite's blob/text length is an int; longer values are refused rather than truncated.
constexpr size_t kMaxLength = 0x7fffffff;

}  // namespace

absl::StatusOr<Statement> Statement::Prepare(sqlite3* db, absl::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return LastError(db, "prepare");
  }
  if (stmt == nullptr) return absl::InvalidArgumentError("prepare: empty statement");
  return Statement(db, stmt);
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), bind_error_(std::move(other.bind_error_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_error_ = std::move(other.bind_error_);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::Check(int rc, int index) {
  if (rc == SQLITE_OK || !bind_error_.ok()) return;
  bind_error_ = ErrorFromCode(rc, absl::StrCat("bind parameter ", index), sqlite3_errstr(rc));
}

Statement& Statement::BindInt(int index, int64_t value) {
  Check(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Statement& Statement::BindUint(int index, uint64_t value) {
  int64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return BindInt(index, bits);
}

Statement& Statement::BindText(int index, absl::string_view value) {
  if (value.size() > kMaxLength) {
    Check(SQLITE_TOOBIG, index);
    return *this;
  }
  Check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT), index);
  return *this;
}

Statement& Statement::BindBlobAs(int index, absl::string_view value, bool copy) {
  if (value.size() > kMaxLength) {
    Check(SQLITE_TOOBIG, index);
    return *this;
  }
  // A null pointer would bind NULL instead of an empty blob.
  const void* data = value.empty() ? "" : value.data();
  Check(sqlite3_bind_blob(stmt_, index, data, static_cast<int>(value.size()), copy ? SQLITE_TRANSIENT : SQLITE_STATIC),
        index);
  return *this;
}

Statement& Statement::BindBlob(int index, absl::string_view value) { return BindBlobAs(index, value, true); }

Statement& Statement::BindBlob(int index, absl::Span<const uint8_t> value) {
  return BindBlob(index, absl::string_view(reinterpret_cast<const char*>(value.data()), value.size()));
}

Statement& Statement::BindBlobInPlace(int index, absl::Span<const uint8_t> value) {
  return BindBlobAs(index, absl::string_view(reinterpret_cast<const char*>(value.data()), value.size()), false);
}

Statement& Statement::BindNull(int index) {
  Check(sqlite3_bind_null(stmt_, index), index);
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return LastError(db_, "step");
}

absl::Status Statement::Run() {
  for (;;) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = absl::OkStatus();
}

bool Statement::IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

int64_t Statement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }

uint64_t Statement::ColumnUint(int column) const {
  const int64_t bits = ColumnInt(column);
  uint64_t value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

std::string Statement::ColumnText(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  if (p == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string Statement::ColumnBlob(int column) const {
  const void* p = sqlite3_column_blob(stmt_, column);
  if (p == nullptr) return std::string();
  return std::string(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::vector<uint8_t> Statement::ColumnBytes(int column) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, column));
  if (p == nullptr) return {};
  return std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt_, column));
}

}  // namespace platform::sqlite
