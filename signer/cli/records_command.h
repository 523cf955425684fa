// `signer records export | import | prune`: the anti-equivocation record's tools (design
// docs/design/postgres-replicas.md § 6.4-6.5), on the record the signer's config or flags name
// (--anti_equivocation_db=PATH or --anti_equivocation_postgres_dsn_file=FILE).
//
//   signer records export [FILE|-]    every record and watermark as JSON Lines (records_jsonl.h)
//   signer records import FILE|-      merge: adds what is missing, never replaces or removes
//   signer records prune --chain_id=N --sender=0x.. --confirmed_nonce=N --keep_depth=D
//
// Import verifies every signature line (records_verify.h) and merges each (chain, sender) in one
// transaction: a record contradicting a stored one refuses that key (named, nothing of it
// written) and the others are imported; exit 1 then. Prune raises the key's watermark to
// confirmed_nonce - keep_depth (the signer has no chain access by design, so the caller, e.g. a
// CronJob, reads the confirmed nonce) and deletes the records below it older than 24 h; a nonce
// below the watermark with no record is refused at signing, so pruning never reopens one.
// With SQLite the signer must be stopped (the file's process lock); PostgreSQL is fine live.
//
// Exit codes: 0 ok, 1 a key or line refused (or an I/O failure), 2 usage, 3 the record cannot be
// opened (as the server's start-up).
#ifndef ONCHAIN_KMS_SIGNER_CLI_RECORDS_COMMAND_H_
#define ONCHAIN_KMS_SIGNER_CLI_RECORDS_COMMAND_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "signer/equivocation/record_admin.h"

namespace signer::cli {

struct RecordsOptions {
  // Opens the record (the caller's backend choice); called once, after the arguments are checked.
  std::function<absl::StatusOr<std::unique_ptr<equivocation::RecordAdmin>>()> open;
  std::string backend;  // "sqlite" or "postgres": the export header's source
  // prune
  std::optional<uint64_t> chain_id;
  std::string sender;
  std::optional<uint64_t> confirmed_nonce;
  std::optional<uint64_t> keep_depth;
  absl::Duration keep_recent = absl::Hours(24);
};

inline constexpr int kRecordsExitCannotOpen = 3;

// args: what follows "records". Results to `out` (JSON lines), diagnostics to `err`.
int RunRecordsCommand(const std::vector<std::string>& args, const RecordsOptions& options, std::FILE* out,
                      std::FILE* err);

}  // namespace signer::cli

#endif  // ONCHAIN_KMS_SIGNER_CLI_RECORDS_COMMAND_H_
