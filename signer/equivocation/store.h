// Anti-equivocation record, the EVM analogue of Web3Signer's slashing protection: every
// signature the signer releases is first recorded durably, keyed by (chain_id, sender, nonce).
// For a key that was already signed for:
//   * the same transaction (same signing hash)            -> REPEAT: the stored bytes again;
//   * same to/value/data, gas_limit not below the latest
//     version's, both fees raised by >= 10% over the
//     highest signed so far                                -> FEE_BUMP (a replacement);
//   * anything else                                        -> CONFLICT (FAILED_PRECONDITION).
//
// Concurrency: a request holds its (chain, sender, nonce) slot from classification until its
// record is durable (or abandoned), so two requests of one process for one nonce are decided one
// after the other, in arrival order; a request waiting for its slot holds no thread
// (slot_locks.h). Records are written by a group commit (group_commit.h).
#ifndef ONCHAIN_KMS_SIGNER_EQUIVOCATION_STORE_H_
#define ONCHAIN_KMS_SIGNER_EQUIVOCATION_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/hash32.h"
#include "chain/u256.h"
#include "signer/equivocation/sender_stop.h"
#include "signer/equivocation/slot_key.h"
#include "signer/equivocation/slot_locks.h"

namespace signer::equivocation {

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
  // 1 for the first signature of the slot, n + 1 for its nth fee bump: with the slot, the key
  // that lets only one signer record each version (PostgreSQL); SQLite derives it from its order.
  uint32_t slot_version = 1;
  std::optional<chain::Hash32> replaced_tx_hash;
  chain::U256 budget_charge;  // what this signature added to the key's 24 h fee ledger
  // The key's 24 h fee budget under the policy that allowed this signature (none: unlimited). A
  // store shared by replicas checks it at commit against every replica's records (the budget is
  // global); RESOURCE_EXHAUSTED then, and nothing is recorded. SQLite (one process) leaves it to
  // the in-process ledger.
  std::optional<chain::U256> fee_budget_24h;
  // The same for the key's 24 h value budget (the values ValueCharge counts).
  std::optional<chain::U256> value_budget_24h;
  absl::Time signed_at;
  // Set for an item of a SignBatch with stop_sender_at_refusal (sender_stop.h): a commit does not
  // write it once its sender is stopped (NotStartedError), and a refusal of it stops the sender.
  std::shared_ptr<StopAtRefusal> stop_at_refusal;
};

// What a record adds to its key's 24 h value ledger: its value if it is the first signature of
// its slot; a fee bump keeps the value of the transaction it replaces and adds none.
inline chain::U256 ValueCharge(const Record& r) { return r.nonce_use == NonceUse::kFirst ? r.value : chain::U256(); }

// The payload of a RESOURCE_EXHAUSTED from RecordAsync: which budget refused, as its KeyLimits
// field ("fee_budget_24h_wei", "value_budget_24h_wei").
inline constexpr char kBudgetPayload[] = "type.onchainkms.dev/signer.budget";

struct Verdict {
  enum class Kind { kFirst, kRepeat, kFeeBump, kConflict };
  Kind kind = Kind::kFirst;
  std::optional<Record> repeat;           // kRepeat: the stored record to return again
  std::optional<chain::Hash32> replaced;  // kFeeBump: the latest signed tx for the nonce
  chain::U256 replaced_cost;              // kFeeBump: gas_limit * max_fee of `replaced`
  absl::Status conflict;                  // kConflict: FAILED_PRECONDITION with the reason
  // kConflict: the nonce is below the key's pruned watermark, so whether it was signed is not
  // known (an only_if_signed request gets the conflict, not "not signed before").
  bool unknown = false;
  uint32_t slot_version = 1;  // kFirst, kFeeBump: the version its record takes
};

// The record the engine needs, whatever holds it. The in-process slot locks live here (they keep
// one process's requests for one nonce in order); the backends decide the rest:
// SqliteStore (sqlite_store.h, one process per file) and PostgresStore (postgres_store.h, any
// number of signers on one database: a race between them is decided by a constraint at commit).
class GroupCommit;

class Store {
 public:
  virtual ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Exclusive hold of one (chain, sender, nonce) slot in this process, released by dropping the
  // last reference (after the record is durable or abandoned). `then` runs with it at once on
  // this thread if the slot is free, else on a hand-over thread once every request queued for it
  // before has released it: the calling thread never waits (slot_locks.h).
  using Slot = equivocation::Slot;
  void AcquireAsync(const SlotKey& key, SlotLocks::Then then);
  // Blocking form, for tests and tools.
  std::shared_ptr<Slot> Acquire(const SlotKey& key);
  // Requests waiting for a slot now.
  size_t waiting_for_slots() const { return slot_locks_.waiting(); }

  // Decides how `candidate` relates to what was signed for its slot (which the caller holds).
  // UNAVAILABLE if the database cannot be read.
  virtual absl::StatusOr<Verdict> Classify(const Slot& slot, const Candidate& candidate) = 0;

  // Queues the record for the next group commit (or, when nothing is being written, writes it
  // on this thread before returning: group_commit.h); `done` runs once it is durable (OK),
  // failed (UNAVAILABLE), lost a race to another signer that recorded the slot (or that version
  // of it) first (ABORTED: classify again), or would exceed the key's global fee or value budget
  // (RESOURCE_EXHAUSTED with kBudgetPayload), or, for a record with stop_at_refusal, was not
  // written because an earlier record of its sender was refused (NotStartedError). Nothing may
  // be released before `done` says OK.
  void RecordAsync(Record record, std::function<void(absl::Status)> done);
  // Synchronous form, for tests and tools.
  absl::Status RecordSync(Record record);

  // Every record signed after `since`, oldest first (to replay the fee ledger at start-up).
  virtual absl::Status ForEachSince(absl::Time since, const std::function<void(const Record&)>& fn) = 0;
  // All records of one slot, oldest first.
  virtual absl::StatusOr<std::vector<Record>> RecordsFor(const SlotKey& key) = 0;

  // OK if the record can be read and written now (health: NOT_SERVING otherwise).
  virtual absl::Status Ping() = 0;

  // Group-commit statistics: transactions committed and records written.
  uint64_t commits() const;
  uint64_t records_written() const;

 protected:
  Store() = default;
  // Set by the backend once it can write; stopped by StopGroupCommit (queue drained, then every
  // request waiting for a slot handed it, each finishing at once as records are refused now),
  // which a backend's destructor calls before what its writer and Classify use goes away.
  std::unique_ptr<GroupCommit> group_commit_;
  void StopGroupCommit();

 private:
  SlotLocks slot_locks_;
};

// The verdict for `candidate` given every record of its slot, oldest first (empty: kFirst, unless
// the nonce is below the key's pruned watermark: its records may have been pruned, so kConflict).
Verdict Decide(const std::vector<Record>& rows, const Candidate& candidate, uint64_t pruned_below = 0);

// True if `next` is at least 10% above `prev` (next * 10 >= prev * 11) and strictly above it.
bool RaisedByTenPercent(const chain::U256& prev, const chain::U256& next);

}  // namespace signer::equivocation

#endif  // ONCHAIN_KMS_SIGNER_EQUIVOCATION_STORE_H_
