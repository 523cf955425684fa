#include "orchestrator/server/journal_backend.h"

#include <unistd.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "orchestrator/journal/postgres_change_feed.h"
#include "orchestrator/journal/postgres_journal.h"
#include "orchestrator/journal/postgres_nonce_store.h"
#include "orchestrator/journal/sqlite_journal.h"
#include "platform/postgres/dsn.h"
#include "platform/status_macros.h"

namespace orchestrator::server {
namespace {

namespace v1 = ::onchainkms::orchestrator::v1;

absl::Status WithField(const absl::Status& s, absl::string_view field) {
  return absl::Status(s.code(), absl::StrCat(field, ": ", s.message()));
}

absl::StatusOr<OpenedJournal> OpenSqlite(const std::string& path, absl::string_view field) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  absl::StatusOr<std::unique_ptr<journal::SqliteJournal>> j = journal::SqliteJournal::Open(path);
  if (!j.ok()) return j.status();  // names the file already
  OpenedJournal opened;
  opened.journal = *std::move(j);
  opened.description = path;
  return opened;
}

absl::Duration Dur(const google::protobuf::Duration& d, absl::Duration fallback) {
  if (d.seconds() == 0 && d.nanos() == 0) return fallback;
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

std::string DefaultReplicaId() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof(host), "orchestrator");
  return absl::StrCat(host, "-", ::getpid());
}

absl::StatusOr<OpenedJournal> OpenPostgres(const v1::PostgresJournalConfig& config) {
  constexpr absl::string_view kField = "journal.postgres.dsn_file";
  if (config.dsn_file().empty()) return absl::InvalidArgumentError(absl::StrCat(kField, ": required"));
  RETURN_IF_ERROR(ConfiguredReplica(config).status());  // refused before anything is written
  absl::StatusOr<platform::postgres::Dsn> dsn = platform::postgres::Dsn::FromFile(config.dsn_file());
  if (!dsn.ok()) return absl::InvalidArgumentError(absl::StrCat(kField, ": ", dsn.status().message()));
  journal::PostgresJournalOptions options;
  if (config.pool_size() > 0) options.pool_size = static_cast<int>(config.pool_size());
  absl::StatusOr<std::unique_ptr<journal::PostgresJournal>> j = journal::PostgresJournal::Open(*dsn, options);
  if (!j.ok()) return WithField(j.status(), absl::StrCat(kField, " ", config.dsn_file()));
  absl::StatusOr<std::unique_ptr<journal::PostgresChangeFeed>> changes = journal::PostgresChangeFeed::Open(*dsn);
  if (!changes.ok()) return WithField(changes.status(), absl::StrCat(kField, " ", config.dsn_file()));
  absl::StatusOr<std::unique_ptr<journal::PostgresNonceStore>> nonces = journal::PostgresNonceStore::Open(*dsn);
  if (!nonces.ok()) return WithField(nonces.status(), absl::StrCat(kField, " ", config.dsn_file()));
  // A replica reserves a nonce only for an operation it holds (its lease, design § 4.4).
  (*nonces)->SetFence([journal = j->get()](absl::string_view id) { return journal->FenceFor(id); });
  std::string description = (*j)->description();
  return OpenedJournal{*std::move(j), std::move(description), *std::move(changes), *std::move(nonces)};
}

}  // namespace

absl::StatusOr<ReplicaSettings> ConfiguredReplica(const v1::PostgresJournalConfig& config) {
  ReplicaSettings out;
  out.replica_id = config.replica_id().empty() ? DefaultReplicaId() : config.replica_id();
  if (out.replica_id.size() > 200) {
    return absl::InvalidArgumentError("journal.postgres.replica_id: at most 200 characters");
  }
  out.lease.ttl = Dur(config.lease_ttl(), absl::Seconds(15));
  out.lease.heartbeat_interval = Dur(config.heartbeat_interval(), absl::Seconds(5));
  out.lease.claim_interval = Dur(config.claim_interval(), absl::Seconds(2));
  if (absl::Status s = engine::ValidateLeaseOptions(out.lease); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("journal.postgres.", s.message()));
  }
  return out;
}

absl::StatusOr<OpenedJournal> OpenConfiguredJournal(const v1::OrchestratorConfig& config) {
  if (!config.journal_path().empty() && config.has_journal()) {
    return absl::InvalidArgumentError("journal_path and journal: set only one of them");
  }
  if (!config.has_journal()) return OpenSqlite(config.journal_path(), "journal_path or journal");
  switch (config.journal().backend_case()) {
    case v1::JournalConfig::kSqlite:
      return OpenSqlite(config.journal().sqlite().path(), "journal.sqlite.path");
    case v1::JournalConfig::kPostgres:
      return OpenPostgres(config.journal().postgres());
    case v1::JournalConfig::BACKEND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("journal: set sqlite or postgres");
}

}  // namespace orchestrator::server
