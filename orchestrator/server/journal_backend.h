// The journal the configuration names: `journal_path` (SQLite, as before) or
// `journal { sqlite { path } }` or `journal { postgres { dsn_file ... } }`, exactly one.
// Errors name the config field: INVALID_ARGUMENT for a bad configuration (a missing field, both
// forms, an unreadable or too open DSN file); the backend's own code otherwise
// (UNAUTHENTICATED for a refused password, UNAVAILABLE for no server, FAILED_PRECONDITION for a
// missing database, a schema newer than this program, or a SQLite file in use). Never the
// password. With PostgreSQL the replicas' nonce store opens on the same database (design § 5):
// transactions then take their nonces from it, so replicas sharing a key never collide.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_SERVER_JOURNAL_BACKEND_H_
#define ONCHAIN_KMS_ORCHESTRATOR_SERVER_JOURNAL_BACKEND_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "onchainkms/orchestrator/v1/config.pb.h"
#include "orchestrator/engine/lease_keeper.h"
#include "orchestrator/journal/change_feed.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/journal/step_nonces.h"

namespace orchestrator::server {

struct OpenedJournal {
  std::unique_ptr<journal::Journal> journal;
  std::string description;  // for the start-up log line: the file, or the server without password
  // PostgreSQL: the change log Watch follows for operations other replicas run
  // (engine/remote_watch.h); null for SQLite (one process).
  std::unique_ptr<journal::ChangeFeed> changes;
  std::unique_ptr<journal::StepNonces> nonces;  // PostgreSQL only; null for SQLite (one process)
};

absl::StatusOr<OpenedJournal> OpenConfiguredJournal(const ::onchainkms::orchestrator::v1::OrchestratorConfig& config);

// The replica settings of `journal.postgres` (defaults filled in: replica_id "<host>-<pid>",
// lease_ttl 15 s, heartbeat_interval 5 s, claim_interval 2 s). INVALID_ARGUMENT naming the field
// when the timings do not fit together.
struct ReplicaSettings {
  std::string replica_id;
  engine::LeaseOptions lease;
};
absl::StatusOr<ReplicaSettings> ConfiguredReplica(const ::onchainkms::orchestrator::v1::PostgresJournalConfig& config);

}  // namespace orchestrator::server

#endif  // ONCHAIN_KMS_ORCHESTRATOR_SERVER_JOURNAL_BACKEND_H_
