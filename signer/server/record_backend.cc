#include "signer/server/record_backend.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/postgres/dsn.h"
#include "signer/equivocation/sqlite_store.h"

namespace signer::server {

absl::StatusOr<OpenedRecord> OpenRecord(const onchainkms::signer::v1::SignerConfig& config) {
  OpenedRecord opened;
  if (!config.has_anti_equivocation_postgres()) {
    absl::StatusOr<std::unique_ptr<equivocation::SqliteStore>> s =
        equivocation::SqliteStore::Open(config.anti_equivocation_db_path());
    if (!s.ok()) return s.status();
    opened.admin = s->get();
    opened.store = *std::move(s);
    opened.backend = "sqlite";
    return opened;
  }
  // libpq would read a password from the environment; only the DSN file may carry one.
  ::unsetenv("PGPASSWORD");
  const onchainkms::signer::v1::AntiEquivocationPostgres& pg = config.anti_equivocation_postgres();
  absl::StatusOr<platform::postgres::Dsn> dsn = platform::postgres::Dsn::FromFile(pg.dsn_file());
  if (!dsn.ok()) {
    return absl::Status(dsn.status().code(),
                        absl::StrCat("anti_equivocation_postgres.dsn_file: ", dsn.status().message()));
  }
  equivocation::PostgresStoreOptions options;
  if (pg.pool_size() != 0) options.pool_size = static_cast<int>(pg.pool_size());
  absl::StatusOr<std::unique_ptr<equivocation::PostgresStore>> s = equivocation::PostgresStore::Open(*dsn, options);
  if (!s.ok()) return s.status();
  opened.admin = s->get();
  opened.postgres = s->get();
  opened.store = *std::move(s);
  opened.backend = "postgres";
  return opened;
}

}  // namespace signer::server
