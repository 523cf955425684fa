// A transaction on one Connection: BEGIN with an isolation level, rolled back on destruction
// unless committed. Under kRepeatableRead and kSerializable the server may refuse a statement or
// the COMMIT with a serialization failure or deadlock: that is ABORTED, and the caller runs the
// whole transaction again. While it is open the connection never reconnects (connection.h).
#ifndef ONCHAIN_KMS_PLATFORM_POSTGRES_TRANSACTION_H_
#define ONCHAIN_KMS_PLATFORM_POSTGRES_TRANSACTION_H_

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
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
  // it, or a serialization failure at COMMIT); UNAVAILABLE when the connection was lost before
  // COMMIT was sent (rolled back too); UNKNOWN when it was lost after COMMIT was sent and before
  // the answer: the transaction may have committed, so read before doing it again. Either way
  // the transaction is over afterwards.
  absl::Status Commit();

 private:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  void Rollback();
  Connection* conn_;  // null once committed or rolled back
};

// Runs `body` in a transaction and commits it; while an attempt fails with ABORTED (serialization
// failure, deadlock) or UNAVAILABLE (server down or restarting: every such failure means the
// transaction was rolled back), runs it again from BEGIN on the reconnected connection, backing
// off from 10 ms to 1 s, until `deadline`. UNKNOWN from Commit is returned, never retried. `body`
// may run several times: it must have no effect outside the database.
absl::Status RunTransaction(Connection& conn, Isolation isolation, absl::Time deadline,
                            absl::FunctionRef<absl::Status(Connection&)> body);

}  // namespace platform::postgres

#endif  // ONCHAIN_KMS_PLATFORM_POSTGRES_TRANSACTION_H_
