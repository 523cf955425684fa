// A prepared statement: typed binds (1-based, as in SQL's ?N), Step, typed columns (0-based).
// Finalized on destruction. A bind error is kept and reported by the next Step/Run, so binds
// chain. Not thread-safe: use it under whatever serializes its connection.
#ifndef ONCHAIN_KMS_PLATFORM_SQLITE_STATEMENT_H_
#define ONCHAIN_KMS_PLATFORM_SQLITE_STATEMENT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

struct sqlite3;
struct sqlite3_stmt;

namespace platform::sqlite {

class Statement {
 public:
  // Prepares `sql` on `db` (which must outlive the statement). Prefer Database::Prepare.
  static absl::StatusOr<Statement> Prepare(sqlite3* db, absl::string_view sql);

  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& BindInt(int index, int64_t value);
  Statement& BindUint(int index, uint64_t value);  // stored as the int64 with the same bits
  Statement& BindText(int index, absl::string_view value);
  Statement& BindBlob(int index, absl::string_view value);
  Statement& BindBlob(int index, absl::Span<const uint8_t> value);
  // BindBlob without the copy: SQLite reads the bytes where they are, so they must stay valid
  // and unchanged until Reset (which clears the binding) or the statement's end. For a row
  // bound from a live object and run at once (the signer's record insert: six blobs a row).
  Statement& BindBlobInPlace(int index, absl::Span<const uint8_t> value);
  Statement& BindNull(int index);

  // Advances: true with a row to read, false when done.
  absl::StatusOr<bool> Step();
  // Steps a statement that returns no rows (INSERT, UPDATE, ...) to its end.
  absl::Status Run();
  // Makes the statement runnable again and clears every binding.
  void Reset();

  bool IsNull(int column) const;
  int64_t ColumnInt(int column) const;
  uint64_t ColumnUint(int column) const;  // the inverse of BindUint
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;
  std::vector<uint8_t> ColumnBytes(int column) const;

 private:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  void Check(int rc, int index);
  // `copy`: SQLITE_TRANSIENT (SQLite copies the bytes), else SQLITE_STATIC.
  Statement& BindBlobAs(int index, absl::string_view value, bool copy);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  absl::Status bind_error_;
};

// A statement kept by its connection (Database::PrepareCached), borrowed: reset on destruction.
class CachedStatement {
 public:
  explicit CachedStatement(Statement* st) : st_(st) {}
  CachedStatement(CachedStatement&& other) noexcept : st_(std::exchange(other.st_, nullptr)) {}
  CachedStatement& operator=(CachedStatement&&) = delete;
  CachedStatement(const CachedStatement&) = delete;
  CachedStatement& operator=(const CachedStatement&) = delete;
  ~CachedStatement() {
    if (st_ != nullptr) st_->Reset();
  }

  Statement& operator*() const { return *st_; }
  Statement* operator->() const { return st_; }

 private:
  Statement* st_;
};

}  // namespace platform::sqlite

#endif  // ONCHAIN_KMS_PLATFORM_SQLITE_STATEMENT_H_
