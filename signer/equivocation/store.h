// Anti-equivocation record, the EVM analogue of Web3Signer's slashing protection: every
// signature the signer releases is first recorded durably in SQLite, keyed by
// (chain_id, sender, nonce). For a key that was already signed for:
//   * the same transaction (same signing hash)            -> REPEAT: the stored bytes again;
//   * same to/value/data, both fees raised by >= 10% over
//     the highest signed so far                            -> FEE_BUMP (a replacement);
//   * anything else                                        -> CONFLICT (FAILED_PRECONDITION).
//
// Concurrency: a request holds its (chain, sender, nonce) slot from classification until its
// record is durable (or abandoned), so two requests for one nonce are decided one after the
// other. Records are written by one writer thread that commits whatever is queued in a single
// transaction (group commit): 64 concurrent requests share one fsync instead of 64.
#ifndef ONCHAIN_KMS_SIGNER_EQUIVOCATION_STORE_H_
#define ONCHAIN_KMS_SIGNER_EQUIVOCATION_STORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/hash32.h"
#include "chain/u256.h"
#include "platform/sqlite/database.h"
#include "platform/sqlite/statement.h"

namespace signer::equivocation {

struct SlotKey {
  uint64_t chain_id = 0;
  chain::Address sender;
  uint64_t nonce = 0;
  friend bool operator==(const SlotKey&, const SlotKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const SlotKey& k) {
    return H::combine(std::move(h), k.chain_id, k.sender, k.nonce);
  }
};

// How a signature relates to earlier ones; numbered like signer.proto's NonceUse.
enum class NonceUse { kFirst = 1, kRepeat = 2, kFeeBump = 3 };

// The unsigned transaction a request wants signed.
struct Candidate {
  SlotKey key;
  chain::Hash32 signing_hash;  // identifies the unsigned payload
  chain::Address to;
  chain::U256 value;
  chain::Bytes data;
  uint64_t gas_limit = 0;
  chain::U256 max_fee_per_gas;
  chain::U256 max_priority_fee_per_gas;
};

// One signed transaction as recorded: the candidate that was signed, and the signature's outcome.
struct Record : Candidate {
  chain::Bytes raw;  // signed bytes
  chain::Hash32 tx_hash;
  NonceUse nonce_use = NonceUse::kFirst;
  std::optional<chain::Hash32> replaced_tx_hash;
  chain::U256 budget_charge;  // what this signature added to the key's 24 h fee ledger
  absl::Time signed_at;
};

struct Verdict {
  enum class Kind { kFirst, kRepeat, kFeeBump, kConflict };
  Kind kind = Kind::kFirst;
  std::optional<Record> repeat;           // kRepeat: the stored record to return again
  std::optional<chain::Hash32> replaced;  // kFeeBump: the latest signed tx for the nonce
  chain::U256 replaced_cost;              // kFeeBump: gas_limit * max_fee of `replaced`
  absl::Status conflict;                  // kConflict: FAILED_PRECONDITION with the reason
};

class Store {
 public:
  // Opens or creates the database (file mode 0600), WAL mode, synchronous=FULL, and starts the
  // writer thread. max_batch bounds one group commit. FAILED_PRECONDITION naming the path if
  // another process (another signer) holds the database.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path, size_t max_batch = 512);
  ~Store();  // drains the queue, then stops the writer
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Exclusive hold of one (chain, sender, nonce) slot; blocks while another request holds it.
  // Release by destroying the returned object (after the record is durable or abandoned).
  class Slot;
  std::shared_ptr<Slot> Acquire(const SlotKey& key);

  // Decides how `candidate` relates to what was signed for its slot (which the caller holds).
  // UNAVAILABLE if the database cannot be read.
  absl::StatusOr<Verdict> Classify(const Slot& slot, const Candidate& candidate);

  // Queues the record for the next group commit; `done` runs on the writer thread once it is
  // durable (OK) or failed (UNAVAILABLE). Nothing may be released before `done` says OK.
  void RecordAsync(Record record, std::function<void(absl::Status)> done);
  // Synchronous form, for tests and tools.
  absl::Status RecordSync(Record record);

  // Every record signed after `since`, oldest first (to replay the fee ledger at start-up).
  absl::Status ForEachSince(absl::Time since, const std::function<void(const Record&)>& fn);
  // All records of one slot, oldest first.
  absl::StatusOr<std::vector<Record>> RecordsFor(const SlotKey& key);

  // Group-commit statistics: transactions committed and records written.
  uint64_t commits() const { return commits_.load(); }
  uint64_t records_written() const { return records_written_.load(); }

 private:
  struct Pending {
    Record record;
    std::function<void(absl::Status)> done;
  };
  Store() = default;
  absl::Status OpenDatabase(const std::string& path);
  absl::Status LoadKnownSlots();
  void WriterLoop();
  absl::Status WriteBatch(const std::vector<Pending>& batch, std::vector<absl::Status>& results);
  absl::StatusOr<std::vector<Record>> ReadSlot(const SlotKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(read_mu_);
  void Release(const SlotKey& key);

  std::unique_ptr<platform::sqlite::Database> write_db_;  // writer thread only (after Open)
  std::optional<platform::sqlite::Statement> insert_;
  absl::Mutex read_mu_;
  std::unique_ptr<platform::sqlite::Database> read_db_ ABSL_GUARDED_BY(read_mu_);
  std::optional<platform::sqlite::Statement> select_slot_ ABSL_GUARDED_BY(read_mu_);

  absl::Mutex slots_mu_;
  absl::flat_hash_set<SlotKey> busy_ ABSL_GUARDED_BY(slots_mu_);
  // Every slot with at least one durable record (loaded at Open, extended after each commit):
  // a request for a slot not in it is FIRST without a database read (~40 bytes per record).
  absl::flat_hash_set<SlotKey> known_ ABSL_GUARDED_BY(slots_mu_);

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<Pending> queue_;  // guarded by queue_mu_
  bool stopping_ = false;       // guarded by queue_mu_
  size_t max_batch_ = 512;
  std::thread writer_;
  // Completions run on their own thread so the writer can start the next group commit (and its
  // fsync) while the previous batch's replies are being audited and sent.
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::vector<std::pair<std::function<void(absl::Status)>, absl::Status>> done_queue_;  // guarded by done_mu_
  bool done_stopping_ = false;                                                          // guarded by done_mu_
  std::thread completer_;
  void CompleterLoop();
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> records_written_{0};
};

class Store::Slot {
 public:
  ~Slot() { store_->Release(key_); }
  const SlotKey& key() const { return key_; }

 private:
  friend class Store;
  Slot(Store* store, SlotKey key) : store_(store), key_(key) {}
  Store* store_;
  SlotKey key_;
};

// True if `next` is at least 10% above `prev` (next * 10 >= prev * 11) and strictly above it.
bool RaisedByTenPercent(const chain::U256& prev, const chain::U256& next);

}  // namespace signer::equivocation

#endif  // ONCHAIN_KMS_SIGNER_EQUIVOCATION_STORE_H_
