#include "orchestrator/journal/postgres_change_feed.h"

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "orchestrator/journal/error_context.h"
#include "platform/postgres/result.h"
#include "platform/status_macros.h"

namespace orchestrator::journal {
namespace {

using platform::postgres::Param;
using platform::postgres::Result;

// Upper bound of notices taken in one Wait, so a burst cannot starve the reads.
constexpr int kMaxNotices = 1024;

// The record's version and state with the log entries above $2, in one snapshot (a LEFT JOIN:
// one row with NULL entry columns when there are none).
constexpr absl::string_view kChangesSince =
    "SELECT o.version, o.state, c.version, c.events, c.operation FROM operations o "
    "LEFT JOIN LATERAL (SELECT version, events, operation FROM operation_changes "
    "WHERE operation_id = o.id AND version > $2 ORDER BY version LIMIT $3) c ON true "
    "WHERE o.id = $1 ORDER BY c.version";

constexpr absl::string_view kPruneFinished =
    "DELETE FROM operation_changes c USING operations o "
    "WHERE c.operation_id = o.id AND o.state IN (4, 5, 6) AND o.update_time_us < $1";

// "<id> <version> <state> <owner>"; nullopt for anything else (e.g. another program's payload).
std::optional<ChangeNotice> ParseNotice(absl::string_view payload) {
  const std::vector<absl::string_view> parts = absl::StrSplit(payload, ' ');
  ChangeNotice n;
  if (parts.size() < 3 || parts[0].empty() || !absl::SimpleAtoi(parts[1], &n.version) ||
      !absl::SimpleAtoi(parts[2], &n.state)) {
    return std::nullopt;
  }
  n.operation_id = std::string(parts[0]);
  return n;
}

absl::StatusOr<ChangeBatch> ReadBatch(const Result& rows) {
  ChangeBatch batch;
  for (int i = 0; i < rows.rows(); ++i) {
    ASSIGN_OR_RETURN(batch.version, rows.Int(i, 0));
    ASSIGN_OR_RETURN(const int64_t state, rows.Int(i, 1));
    batch.state = static_cast<int>(state);
    if (rows.IsNull(i, 2)) continue;
    OperationChange c;
    ASSIGN_OR_RETURN(c.version, rows.Int(i, 2));
    ASSIGN_OR_RETURN(c.events, rows.Bytes(i, 3));
    ASSIGN_OR_RETURN(c.operation, rows.Bytes(i, 4));
    batch.changes.push_back(std::move(c));
  }
  return batch;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresChangeFeed>> PostgresChangeFeed::Open(const platform::postgres::Dsn& dsn) {
  platform::postgres::ConnectOptions options;
  options.application_name = "onchain-kms-orchestrator-watch";
  ASSIGN_OR_RETURN(std::unique_ptr<platform::postgres::Connection> conn,
                   platform::postgres::Connection::Open(dsn, options));
  RETURN_IF_ERROR(Context(conn->Listen(kChannel), "listen"));
  return std::unique_ptr<PostgresChangeFeed>(new PostgresChangeFeed(std::move(conn)));
}

absl::StatusOr<std::vector<ChangeNotice>> PostgresChangeFeed::Wait(absl::Time deadline) {
  std::vector<ChangeNotice> out;
  absl::Time until = deadline;
  while (out.size() < kMaxNotices) {
    absl::StatusOr<std::optional<platform::postgres::Notification>> n = conn_->WaitForNotification(until);
    if (!n.ok()) return Context(absl::UnavailableError(n.status().message()), "wait for changes");
    if (!n->has_value()) break;
    if (std::optional<ChangeNotice> notice = ParseNotice((*n)->payload)) out.push_back(*std::move(notice));
    until = absl::InfinitePast();  // the first one came: take only what is already queued
  }
  return out;
}

absl::StatusOr<ChangeBatch> PostgresChangeFeed::ChangesSince(absl::string_view operation_id, int64_t after_version,
                                                             int limit) {
  const Param params[] = {Param::Text(operation_id), Param::Int(after_version), Param::Int(limit)};
  absl::StatusOr<Result> rows = conn_->Execute(kChangesSince, params);
  if (!rows.ok()) return Context(rows.status(), "read changes");
  if (rows->rows() == 0) return absl::NotFoundError(absl::StrCat("operation ", operation_id, " not found"));
  absl::StatusOr<ChangeBatch> batch = ReadBatch(*rows);
  if (!batch.ok()) return Context(batch.status(), "read changes");
  return batch;
}

absl::StatusOr<int64_t> PostgresChangeFeed::PruneFinished(absl::Time finished_before) {
  const Param params[] = {Param::Int(absl::ToUnixMicros(finished_before))};
  absl::StatusOr<Result> rows = conn_->Execute(kPruneFinished, params);
  if (!rows.ok()) return Context(rows.status(), "prune changes");
  return rows->affected_rows();
}

}  // namespace orchestrator::journal
