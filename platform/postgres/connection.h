// One connection to a PostgreSQL server (libpq). Statements given to Execute are prepared once per
// connection (cached by their SQL text) and run with typed parameters; results are Result values.
//
// Threads: a Connection is used by one thread at a time (libpq's rule); share a database between
// threads through a Pool (pool.h) or one Connection per thread.
//
// Reconnection: when the server went away (restart, failover, idle timeout), the next call
// outside a transaction reconnects first (with the same DSN, re-LISTENing) and prepares its
// statements again; a call that was cut off fails UNAVAILABLE and may simply be repeated. Inside a
// Transaction nothing reconnects: the server rolled the transaction back, so every call fails
// UNAVAILABLE until the Transaction object ends, and the caller runs it again from BEGIN.
#ifndef ONCHAIN_KMS_PLATFORM_POSTGRES_CONNECTION_H_
#define ONCHAIN_KMS_PLATFORM_POSTGRES_CONNECTION_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "platform/postgres/dsn.h"
#include "platform/postgres/param.h"
#include "platform/postgres/result.h"

struct pg_conn;
struct pg_result;

namespace platform::postgres {

struct ConnectOptions {
  // Per connection attempt. libpq counts whole seconds (rounded up here) and waits at least 2 s;
  // a connect_timeout in the DSN wins, as do application_name and keepalive settings there.
  absl::Duration connect_timeout = absl::Seconds(5);
  std::string application_name = "onchain-kms";
};

struct Notification {
  std::string channel;
  std::string payload;
};

class Connection {
 public:
  // Errors as error.h's ConnectError: UNAUTHENTICATED, FAILED_PRECONDITION or UNAVAILABLE.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const Dsn& dsn, const ConnectOptions& options = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements without parameters (schema scripts, SET, LISTEN).
  absl::Status Exec(absl::string_view sql);
  // Runs one statement with $1.. parameters; the statement is prepared on first use.
  absl::StatusOr<Result> Execute(absl::string_view sql, absl::Span<const Param> params = {});

  // LISTEN on `channel` (kept across reconnections). A NOTIFY sent while disconnected is lost:
  // after an UNAVAILABLE, read the state again rather than wait for it.
  absl::Status Listen(absl::string_view channel);
  // The next notification, or nullopt once `deadline` passes; UNAVAILABLE if the server went away.
  absl::StatusOr<std::optional<Notification>> WaitForNotification(absl::Time deadline);

  // "postgres host=... port=... dbname=... user=...", for messages; never the password.
  const std::string& description() const { return description_; }
  bool in_transaction() const { return in_transaction_; }

 private:
  friend class Transaction;
  Connection(Dsn dsn, pg_conn* conn);
  // False once the server closed the connection (reads what it sent, never blocks).
  bool Alive();
  absl::Status EnsureConnected();
  absl::StatusOr<std::string> PreparedName(absl::string_view sql);
  // The result when it succeeded; else the error (and the result cleared).
  absl::StatusOr<Result> Checked(pg_result* result, absl::string_view what);

  const Dsn dsn_;
  const std::string description_;
  pg_conn* conn_;
  absl::flat_hash_map<std::string, std::string> prepared_;  // SQL text -> statement name
  int64_t next_statement_ = 0;
  size_t allocated_ = 0;  // statement names given out since the last DEALLOCATE ALL or reconnection
  std::vector<std::string> channels_;
  bool in_transaction_ = false;  // set by Transaction
};

}  // namespace platform::postgres

#endif  // ONCHAIN_KMS_PLATFORM_POSTGRES_CONNECTION_H_
