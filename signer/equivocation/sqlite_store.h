// The anti-equivocation record in a local SQLite file (//platform/sqlite: WAL, synchronous=FULL,
// one process per file: a second signer on the same file is refused). A slot known to have no
// record is decided FIRST without a database read.
#ifndef ONCHAIN_KMS_SIGNER_EQUIVOCATION_SQLITE_STORE_H_
#define ONCHAIN_KMS_SIGNER_EQUIVOCATION_SQLITE_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "platform/sqlite/database.h"
#include "platform/sqlite/statement.h"
#include "signer/equivocation/group_commit.h"
#include "signer/equivocation/record_admin.h"
#include "signer/equivocation/store.h"

namespace signer::equivocation {

class SqliteStore final : public Store, public RecordAdmin {
 public:
  // Opens or creates the database (file mode 0600), WAL mode, synchronous=FULL, and starts the
  // group commit. max_batch bounds one group commit. FAILED_PRECONDITION naming the path if
  // another process (another signer) holds the database.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path, size_t max_batch = 512);
  ~SqliteStore() override;  // drains the queue, then stops the writer

  absl::StatusOr<Verdict> Classify(const Slot& slot, const Candidate& candidate) override;
  absl::Status ForEachSince(absl::Time since, const std::function<void(const Record&)>& fn) override;
  absl::StatusOr<std::vector<Record>> RecordsFor(const SlotKey& key) override;
  absl::Status Ping() override;

  // RecordAdmin (the signer is stopped while a tool holds the file: the process lock).
  absl::Status ForEachRecord(const std::function<void(const Record&)>& fn) override;
  absl::StatusOr<std::vector<Watermark>> Watermarks() override;
  absl::StatusOr<MergeResult> Merge(const KeyRecords& key) override;
  absl::StatusOr<PruneResult> Prune(uint64_t chain_id, const chain::Address& sender, uint64_t below,
                                    absl::Duration keep_recent) override;

 private:
  using KeyOfChain = std::pair<uint64_t, chain::Address>;
  SqliteStore() = default;
  absl::Status OpenDatabase(const std::string& path);
  absl::Status LoadKnownSlots();
  absl::Status LoadWatermarks();
  uint64_t PrunedBelow(const SlotKey& key);
  absl::StatusOr<platform::sqlite::Database*> AdminDb() ABSL_EXCLUSIVE_LOCKS_REQUIRED(admin_mu_);
  absl::Status RaiseWatermark(platform::sqlite::Database& db, uint64_t chain_id, const chain::Address& sender,
                              uint64_t below);
  absl::Status WriteBatch(const std::vector<GroupCommit::Pending>& batch, std::vector<absl::Status>& results);
  void MarkKnown(const std::vector<GroupCommit::Pending>& batch);
  absl::StatusOr<std::vector<Record>> ReadSlot(const SlotKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(read_mu_);

  std::unique_ptr<platform::sqlite::Database> write_db_;  // writer thread only (after Open)
  std::optional<platform::sqlite::Statement> insert_;
  absl::Mutex read_mu_;
  std::unique_ptr<platform::sqlite::Database> read_db_ ABSL_GUARDED_BY(read_mu_);
  std::optional<platform::sqlite::Statement> select_slot_ ABSL_GUARDED_BY(read_mu_);

  absl::Mutex known_mu_;
  // Every slot with at least one durable record (loaded at Open, extended after each commit):
  // a request for a slot not in it is FIRST without a database read (~40 bytes per record).
  absl::flat_hash_set<SlotKey> known_ ABSL_GUARDED_BY(known_mu_);
  // Every watermark (loaded at Open, raised by Prune and Merge): one process per file.
  absl::flat_hash_map<KeyOfChain, uint64_t> watermarks_ ABSL_GUARDED_BY(known_mu_);

  absl::Mutex admin_mu_;  // the tools' own connection, opened on first use
  std::unique_ptr<platform::sqlite::Database> admin_db_ ABSL_GUARDED_BY(admin_mu_);
};

}  // namespace signer::equivocation

#endif  // ONCHAIN_KMS_SIGNER_EQUIVOCATION_SQLITE_STORE_H_
