// The nonces of the orchestrator's signing keys in its PostgreSQL database, shared by every
// replica (docs/design/postgres-replicas.md § 5.1-5.3): tables nonce_senders, nonce_slots,
// nonce_requests, nonce_versions, in their own versioned schema "orchestrator_nonces" next to the
// journal's (so its migrations and the journal's do not have to be numbered together).
//
// - The hold of a sender is a row lock (SELECT ... FOR NO KEY UPDATE on its nonce_senders row)
//   in a transaction on a connection of its own, kept until the hold ends; the hold's writes go
//   through other connections and commit at once. A row lock rather than an advisory lock: it is
//   keyed by exactly (chain, sender) with no hashing, shows up in pg_locks with its table, obeys
//   lock_timeout like any other wait, and goes with the connection (a replica that dies, or
//   whose connection is cut, releases it at once); the row must exist anyway for the slots'
//   foreign key. NO KEY UPDATE, not UPDATE: the slot inserts check that foreign key with KEY
//   SHARE on the same row, which UPDATE would block behind our own hold.
// - nonce_slots' primary key (chain, sender, nonce) makes a second use of a nonce impossible even
//   if the hold failed: a first request for a taken nonce is ABORTED. Only a VOID slot (refused,
//   nothing signed) is taken again.
// - A lost hold (lock_timeout, 5 s by default) is UNAVAILABLE: the step retries.
//
// Not yet fenced by the operation's lease (design § 4, another step): a replica that lost its
// operations can still reserve a nonce for them; the slot key still keeps it unique.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_POSTGRES_NONCE_STORE_H_
#define ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_POSTGRES_NONCE_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/journal/step_nonces.h"
#include "platform/postgres/dsn.h"
#include "platform/postgres/param.h"
#include "platform/postgres/pool.h"

namespace orchestrator::journal {

struct PostgresNonceStoreOptions {
  int pool_size = 4;  // at least 2: a hold keeps one connection and writes through another
  absl::Duration lock_timeout = absl::Seconds(5);
  absl::Duration acquire_timeout = absl::Seconds(10);
  absl::Duration reorg_grace = chain::onchain::kDefaultReorgGrace;  // tests of the reorg rule set zero
};

class PostgresNonceStore final : public StepNonces {
 public:
  static constexpr absl::string_view kSchemaName = "orchestrator_nonces";

  // Connects and applies the schema (errors as PostgresJournal::Open's).
  static absl::StatusOr<std::unique_ptr<PostgresNonceStore>> Open(const platform::postgres::Dsn& dsn,
                                                                  const PostgresNonceStoreOptions& options = {});
  PostgresNonceStore(const PostgresNonceStore&) = delete;
  PostgresNonceStore& operator=(const PostgresNonceStore&) = delete;

  absl::StatusOr<std::unique_ptr<chain::onchain::SenderHold>> Hold(uint64_t chain_id, const chain::Address& sender,
                                                                   const chain::jsonrpc::CallOptions& opts) override;
  absl::StatusOr<std::vector<chain::onchain::SlotView>> Open(uint64_t chain_id, const chain::Address& sender) override;
  absl::Status Signed(const chain::onchain::TxJournal& journal) override;
  absl::Status Chain(uint64_t chain_id, const chain::Address& sender, uint64_t latest_count) override;
  absl::Status Conflicted(uint64_t chain_id, const chain::Address& sender, uint64_t nonce) override;
  absl::StatusOr<std::vector<chain::onchain::SignedTx>> Versions(uint64_t chain_id, const chain::Address& sender,
                                                                 uint64_t nonce) override;
  absl::StatusOr<std::optional<StepSlot>> NewestOfStep(absl::string_view operation_id, absl::string_view step) override;

  // Several replicas (design § 4.4): a first request reserves its nonce only while the replica
  // holds the operation (the fence's owner and epoch, its lease live), in the same statement;
  // otherwise nothing is reserved: LeaseLost when another replica took the operation over,
  // UNAVAILABLE when the lease merely ran out. `fence` (e.g. PostgresJournal::FenceFor) answers
  // nullopt for "not fenced". Set once, before any Hold.
  using FenceFn = std::function<absl::StatusOr<std::optional<OperationFence>>(absl::string_view operation_id)>;
  void SetFence(FenceFn fence) { fence_ = std::move(fence); }

 private:
  class PgHold;
  PostgresNonceStore(std::unique_ptr<platform::postgres::Pool> pool, const PostgresNonceStoreOptions& options)
      : pool_(std::move(pool)), options_(options) {}
  absl::StatusOr<platform::postgres::Pool::Lease> Acquire(absl::string_view what);
  // One autocommit statement on a pooled connection; errors "nonces: <what>: ...".
  absl::StatusOr<platform::postgres::Result> Run(absl::string_view what, absl::string_view sql,
                                                 absl::Span<const platform::postgres::Param> params);

  // Why a fenced reservation of a nonce for `operation_id` wrote nothing.
  absl::Status FenceRefusal(absl::string_view operation_id, const OperationFence& fence);

  const std::unique_ptr<platform::postgres::Pool> pool_;
  const PostgresNonceStoreOptions options_;
  FenceFn fence_;
};

}  // namespace orchestrator::journal

#endif  // ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_POSTGRES_NONCE_STORE_H_
