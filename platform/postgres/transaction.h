// A transaction on one Connection: BEGIN with an isolation level, rolled back on destruction
// unless committed. Under kRepeatableRead and kSerializable the server may refuse a statement or
// the COMMIT with a serialization failure or deadlock: that is ABORTED, and the caller runs the
// whole transaction again. While it is open the connection never reconnects (connection.h).
#ifndef ONCHAIN_KMS_PLATFORM_POSTGRES_TRANSACTION_H_
#define ONCHAIN_KMS_PLATFORM_POSTGRES_TRANSACTION_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/postgres/connection.h"

namespace platform::postgres {

enum class Isolation { kReadCommitted, kRepeatableRead, kSerializable };

class Transaction {
 public:
  // FAILED_PRECONDITION if `conn` already has an open Transaction.
  static absl::StatusOr<Transaction> Begin(Connection& conn, Isolation isolation = Isolation::kReadCommitted);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();  // rolls back unless Commit succeeded

  // ABORTED when the server rolled the transaction back instead (a failed statement earlier in
  // it, or a serialization failure at COMMIT). Either way the transaction is over afterwards.
  absl::Status Commit();

 private:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  void Rollback();
  Connection* conn_;  // null once committed or rolled back
};

}  // namespace platform::postgres

#endif  // ONCHAIN_KMS_PLATFORM_POSTGRES_TRANSACTION_H_
