// The anti-equivocation record the config names, opened for the server or for the `signer records`
// tools: a local SQLite file (anti_equivocation_db_path) or a PostgreSQL database shared by signer
// replicas (anti_equivocation_postgres.dsn_file; PGPASSWORD is ignored, only the file may carry a
// password). Errors say which of the two and why, never the password.
#ifndef ONCHAIN_KMS_SIGNER_SERVER_RECORD_BACKEND_H_
#define ONCHAIN_KMS_SIGNER_SERVER_RECORD_BACKEND_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "onchainkms/signer/v1/config.pb.h"
#include "signer/equivocation/postgres_store.h"
#include "signer/equivocation/record_admin.h"
#include "signer/equivocation/store.h"

namespace signer::server {

struct OpenedRecord {
  std::unique_ptr<equivocation::Store> store;
  equivocation::RecordAdmin* admin = nullptr;       // the same object, for the tools
  equivocation::PostgresStore* postgres = nullptr;  // the same object when it is PostgreSQL
  std::string backend;                              // "sqlite" or "postgres"
};

absl::StatusOr<OpenedRecord> OpenRecord(const onchainkms::signer::v1::SignerConfig& config);

// The exit code of a signer that cannot open its record (bad DSN file, server unreachable, wrong
// password, a newer schema, the SQLite file in use): distinct from 1 (other start-up failures)
// and 2 (bad command line or config), so an operator or an orchestrator of pods can tell a
// database problem from a key or policy problem.
inline constexpr int kExitRecordUnavailable = 3;

}  // namespace signer::server

#endif  // ONCHAIN_KMS_SIGNER_SERVER_RECORD_BACKEND_H_
