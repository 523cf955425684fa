// The anti-equivocation record in PostgreSQL, shared by any number of signer replicas holding
// the same keys (docs/design/postgres-replicas.md § 6). Each replica classifies optimistically
// from what is committed; the race between replicas is decided at commit by the table's keys:
// PRIMARY KEY (chain, sender, nonce, slot_version) admits one FIRST and one record per fee-bump
// version, UNIQUE (chain, sender, nonce, signing_hash) one record per payload. The group commit
// inserts with ON CONFLICT DO NOTHING, so a record that lost the race is reported ABORTED (its
// neighbours in the batch are unaffected) and the engine classifies it again before anything
// leaves: the winner's identical payload is a REPEAT, anything else is refused or a new bump.
#ifndef ONCHAIN_KMS_SIGNER_EQUIVOCATION_POSTGRES_STORE_H_
#define ONCHAIN_KMS_SIGNER_EQUIVOCATION_POSTGRES_STORE_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "platform/postgres/connection.h"
#include "platform/postgres/dsn.h"
#include "platform/postgres/pool.h"
#include "signer/equivocation/group_commit.h"
#include "signer/equivocation/record_admin.h"
#include "signer/equivocation/store.h"

namespace signer::equivocation {

struct PostgresStoreOptions {
  int pool_size = 4;       // connections for classification reads (the writer has its own)
  size_t max_batch = 512;  // records per group commit
};

class PostgresStore final : public Store, public RecordAdmin {
 public:
  // Connects, creates or migrates the schema ("signer_equivocation" in platform_schema_versions)
  // and checks that commits are durable (synchronous_commit is not off). Errors name the server
  // (host, port, dbname, user), never the password.
  static absl::StatusOr<std::unique_ptr<PostgresStore>> Open(const platform::postgres::Dsn& dsn,
                                                             const PostgresStoreOptions& options = {});
  ~PostgresStore() override;  // drains the queue, then stops the writer

  // Always reads the database: another replica may have signed for the slot.
  absl::StatusOr<Verdict> Classify(const Slot& slot, const Candidate& candidate) override;
  absl::Status ForEachSince(absl::Time since, const std::function<void(const Record&)>& fn) override;
  absl::StatusOr<std::vector<Record>> RecordsFor(const SlotKey& key) override;
  // SELECT 1 on a connection of its own (a busy pool must not look like a lost database).
  absl::Status Ping() override;

  // RecordAdmin: safe while signers run (each merge or prune locks the key's row, like a commit).
  absl::Status ForEachRecord(const std::function<void(const Record&)>& fn) override;
  absl::StatusOr<std::vector<Watermark>> Watermarks() override;
  absl::StatusOr<MergeResult> Merge(const KeyRecords& key) override;
  absl::StatusOr<PruneResult> Prune(uint64_t chain_id, const chain::Address& sender, uint64_t below,
                                    absl::Duration keep_recent) override;

  // The per-key rate limit shared by the replicas (policy::UsageTracker::SharedBucket): takes one
  // token of `sender`'s bucket in signer_keys, refilled at `rate` per second up to `burst` on the
  // database's clock, in one statement; true if there was one. A policy change keeps the tokens.
  absl::StatusOr<bool> TakeToken(const chain::Address& sender, double rate, uint32_t burst);

 private:
  PostgresStore() = default;
  absl::Status WriteBatch(const std::vector<GroupCommit::Pending>& batch, std::vector<absl::Status>& results);
  absl::Status RegisterKeys(const std::vector<GroupCommit::Pending>& batch);
  absl::Status InsertAll(const std::vector<GroupCommit::Pending>& batch, std::vector<absl::Status>& results);

  std::unique_ptr<platform::postgres::Pool> read_pool_;
  std::unique_ptr<platform::postgres::Connection> write_conn_;  // writer thread only (after Open)
  absl::Mutex ping_mu_;
  std::unique_ptr<platform::postgres::Connection> ping_conn_ ABSL_GUARDED_BY(ping_mu_);
  absl::flat_hash_set<chain::Address> registered_;  // writer thread only: rows in signer_keys
};

}  // namespace signer::equivocation

#endif  // ONCHAIN_KMS_SIGNER_EQUIVOCATION_POSTGRES_STORE_H_
