#include "orchestrator/server/journal_backend.h"

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
  return OpenedJournal{*std::move(j), path, nullptr};
}

absl::StatusOr<OpenedJournal> OpenPostgres(const v1::PostgresJournalConfig& config) {
  constexpr absl::string_view kField = "journal.postgres.dsn_file";
  if (config.dsn_file().empty()) return absl::InvalidArgumentError(absl::StrCat(kField, ": required"));
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
  std::string description = (*j)->description();
  return OpenedJournal{*std::move(j), std::move(description), *std::move(changes), *std::move(nonces)};
}

}  // namespace

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
