// A write transaction: BEGIN IMMEDIATE (takes SQLite's write lock up front, so a transaction
// never fails half-way on a lock upgrade), rolled back on destruction unless committed. BEGIN,
// COMMIT and ROLLBACK are the connection's cached statements (compiled once per connection).
#ifndef ONCHAIN_KMS_PLATFORM_SQLITE_TRANSACTION_H_
#define ONCHAIN_KMS_PLATFORM_SQLITE_TRANSACTION_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/sqlite/database.h"

namespace platform::sqlite {

class Transaction {
 public:
  static absl::StatusOr<Transaction> Begin(Database& db);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();  // rolls back unless Commit succeeded

  // After an error the transaction is rolled back (and this object inert).
  absl::Status Commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  void Rollback();
  Database* db_;  // null once committed or rolled back
};

}  // namespace platform::sqlite

#endif  // ONCHAIN_KMS_PLATFORM_SQLITE_TRANSACTION_H_
