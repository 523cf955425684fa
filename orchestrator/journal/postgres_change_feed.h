// The change log of a PostgresJournal (change_feed.h) on PostgreSQL: the table operation_changes
// (schema v1) filled by PostgresJournal::Update in the same statement as the record, and the
// notices of schema v2's trigger on `operations` (channel kChannel, payload
// "<id> <version> <state> <owner>": no content, never a secret). This object owns the one
// LISTEN connection of a replica; its reads run on that connection too.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_POSTGRES_CHANGE_FEED_H_
#define ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_POSTGRES_CHANGE_FEED_H_

#include <memory>

#include "absl/status/statusor.h"
#include "orchestrator/journal/change_feed.h"
#include "platform/postgres/connection.h"
#include "platform/postgres/dsn.h"

namespace orchestrator::journal {

class PostgresChangeFeed final : public ChangeFeed {
 public:
  static constexpr absl::string_view kChannel = "onchain_kms_operations";
  // Migration 1 -> 2 of PostgresJournal's schema: every insert of an operation and every change
  // of its version or owner notifies kChannel when it commits (a NOTIFY is transactional). The
  // owner is there for the replicas that claim released operations (§ 4.2).
  static constexpr absl::string_view kSchemaV2 = R"sql(
CREATE FUNCTION operations_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('onchain_kms_operations',
                    NEW.id || ' ' || NEW.version || ' ' || NEW.state || ' ' || NEW.owner);
  RETURN NULL;
END $$;
CREATE TRIGGER operations_notify AFTER INSERT OR UPDATE OF version, owner, cancel_requested
  ON operations FOR EACH ROW EXECUTE FUNCTION operations_notify();
)sql";

  // Connects and LISTENs (errors as Connection::Open). The schema must be at version 2 or later
  // (PostgresJournal::Open applies it).
  static absl::StatusOr<std::unique_ptr<PostgresChangeFeed>> Open(const platform::postgres::Dsn& dsn);

  absl::StatusOr<std::vector<ChangeNotice>> Wait(absl::Time deadline) override;
  absl::StatusOr<ChangeBatch> ChangesSince(absl::string_view operation_id, int64_t after_version, int limit) override;
  absl::StatusOr<int64_t> PruneFinished(absl::Time finished_before) override;

 private:
  explicit PostgresChangeFeed(std::unique_ptr<platform::postgres::Connection> conn) : conn_(std::move(conn)) {}

  const std::unique_ptr<platform::postgres::Connection> conn_;
};

}  // namespace orchestrator::journal

#endif  // ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_POSTGRES_CHANGE_FEED_H_
