// Nonces and in-flight transactions of one sender on one chain.
//
// - Allocation: SignNext picks the next nonce and signs under one lock per sender, so a nonce is
//   consumed only by a signed transaction (a failed signature leaves no gap) and concurrent
//   operations get contiguous, distinct nonces. The first allocation, and any allocation while
//   nothing is in flight, reads eth_getTransactionCount(pending); otherwise a local counter.
//   Without a store, the calls that queue up while the sender is signing are signed together in
//   one TxSigner::SignBatch (up to max_sign_batch): one signer call, one durable commit there. A
//   refused item stops the batch's later items, which are renumbered and signed in the next one
//   (docs/design/batched-signing.md).
// - Tracking: every signed transaction is kept (all its versions) until it is mined and no
//   operation waits for it any more.
// - Healing (Maintain): a tracked transaction the node no longer knows (dropped, evicted, or
//   removed by a reorg) is broadcast again, byte for byte; so is one whose operation was
//   cancelled, so a gap never blocks later nonces.
// - Fee bumps (Maintain): the lowest unmined nonce (the one everything waits for) is re-signed
//   with both fees raised (FeePolicy::bump_percent, >= 10%) once it has been pending for
//   `stuck_after`: the same call, the same nonce; the signer's anti-equivocation rule allows
//   exactly this. Earlier versions stay tracked: whichever lands wins.
// - Waiting (SubmitAndWait): broadcast, then poll receipts of every version (at once while that
//   pays, then after first_poll, doubling to poll_interval: WaitOptions) until one is mined with
//   the requested confirmations; a poll without a receipt asks whether the node still knows the
//   transaction (and re-broadcasts if not) unless the node accepted it within the last
//   poll_interval; notices a receipt that vanished (reorg, snapshot revert) and re-broadcasts;
//   cancellable; the transaction stays tracked on return so a later resume (Adopt +
//   SubmitAndWait) continues with the same bytes.
//
// One NonceAllocator per (chain, sender) per process. Without a NonceStore, two processes sharing
// a key would race on nonces (detected as "nonce used by another transaction", ABORTED). With
// one (nonce_store.h: orchestrator replicas on one PostgreSQL), the choice, the records and the
// repair of orphaned requests go through the store under its per-sender hold, so allocators in
// any number of processes hand out each nonce once and leave no gap (design § 5.4).
#ifndef ONCHAIN_KMS_CHAIN_ONCHAIN_NONCE_ALLOCATOR_H_
#define ONCHAIN_KMS_CHAIN_ONCHAIN_NONCE_ALLOCATOR_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chain/jsonrpc/cancel.h"
#include "chain/jsonrpc/client.h"
#include "chain/onchain/fees.h"
#include "chain/onchain/nonce_store.h"
#include "chain/onchain/tx_journal.h"
#include "chain/onchain/tx_signer.h"

namespace chain::onchain {

struct WaitOptions {
  // 1: the receipt alone is enough (the SDK's choice). n: the receipt's block and n-1 on top.
  uint32_t confirmations = 1;
  // Receipt polling: once right after the broadcast (a dev node has mined it by then), then
  // after first_poll, doubling up to poll_interval (a slow chain is not polled hard). After a
  // transaction the node had just accepted, the poll at once is made only while such polls find
  // receipts: once one found none (a chain with real blocks, or a dev node under load), the
  // next ones wait first_poll, and every `recheck_poll_at_once`-th tries again.
  absl::Duration first_poll = absl::Milliseconds(250);
  int recheck_poll_at_once = 16;
  absl::Duration poll_interval = absl::Seconds(2);
  // Overall limit of SubmitAndWait (also bounded by CallOptions::deadline).
  absl::Duration timeout = absl::Minutes(3);
};

// What happened to a transaction, for metrics (NonceAllocatorOptions::observer).
enum class TxEvent {
  kSent,          // a new transaction: the first version of a nonce, signed to be broadcast
  kFeeBump,       // a pending one re-signed with higher fees (same call, same nonce)
  kRebroadcast,   // the node no longer knew it (dropped, evicted, reorged): sent again
  kRepaired,      // an orphaned request of a dead process signed again (with a store)
  kNonceConflict  // its nonce was taken by a transaction that is none of ours (replaced)
};

struct NonceAllocatorOptions {
  // Pending at the head this long since its last signature: replaced with a fee bump.
  absl::Duration stuck_after = absl::Seconds(60);
  // At most one maintenance pass per interval (they cost one RPC batch).
  absl::Duration maintain_interval = absl::Seconds(1);
  // A signed transaction whose journal call has not returned is not healed by Maintain for
  // this long (its operation broadcasts it right after journaling); after that it is, so a
  // failed journal cannot leave a nonce gap behind.
  absl::Duration journal_grace = absl::Seconds(30);
  FeePolicy fees;
  // At most this many SignNext calls of one sender that queued up while it was signing are
  // signed in one TxSigner::SignBatch (1: one call each).
  size_t max_sign_batch = 64;
  // Called with each TxEvent, possibly under the allocator's locks: must be quick and must not
  // call back into the allocator.
  std::function<void(TxEvent)> observer;
};

// A mined transaction.
struct MinedTx {
  jsonrpc::Receipt receipt;
  SignedTx tx;               // the version that landed
  int versions = 0;          // signed for this nonce (1 + fee bumps)
  int broadcasts = 0;        // eth_sendRawTransaction calls made by this wait
  int receipt_vanished = 0;  // times a seen receipt disappeared (reorg / revert)
};

class NonceAllocator {
 public:
  // `store`: null for today's single-process allocation; else shared with other processes
  // (must outlive the allocator).
  NonceAllocator(jsonrpc::Client& rpc, TxSigner& signer, uint64_t chain_id, const Address& sender,
                 NonceAllocatorOptions options = {}, NonceStore* store = nullptr);
  ~NonceAllocator();
  NonceAllocator(const NonceAllocator&) = delete;
  NonceAllocator& operator=(const NonceAllocator&) = delete;

  uint64_t chain_id() const { return chain_id_; }
  const Address& sender() const { return sender_; }

  // Takes the next nonce, signs `intent` with the given gas and fees (envelope.nonce, chain_id
  // and from are filled in), verifies the signature, tracks the transaction and calls
  // `journal` (outside the lock). The caller is attached to the nonce: call Release() when done.
  absl::StatusOr<SignedTx> SignNext(const TxIntent& intent, TxEnvelope envelope, JournalFn journal,
                                    const jsonrpc::CallOptions& opts = {});

  // Tracks a transaction signed before (a resumed operation) and attaches the caller. Versions
  // already tracked are merged. INVALID_ARGUMENT if it belongs to another chain or sender, or
  // conflicts with what is tracked for that nonce.
  absl::Status Adopt(const TxJournal& journal, JournalFn journal_fn);

  // Detaches a caller from `nonce`; the record goes once mined (at once when `mined` says so
  // and nobody else waits: then the next SignNext re-reads the chain's nonce if nothing else is
  // in flight, which picks up transactions sent with this key elsewhere).
  void Release(uint64_t nonce, bool mined = false);

  // After SubmitAndWait reported a nonce conflict (IsNonceConflict): forgets `nonce` (its
  // transactions can never be mined) and re-reads the chain's nonce at the next SignNext.
  // Detaches the caller.
  void ForgetConflicted(uint64_t nonce);

  // All versions signed for `nonce`, oldest first; empty when not tracked.
  std::vector<SignedTx> Versions(uint64_t nonce) const;
  std::optional<TxJournal> Journal(uint64_t nonce) const;

  // Broadcasts the newest version of `nonce` and waits until a version is mined with
  // `wait.confirmations`. Errors: CANCELLED / DEADLINE_EXCEEDED (tracked, resumable),
  // ABORTED (a version reverted on chain; or, with IsNonceConflict, the nonce was used by a
  // transaction that is none of ours, checked on two polls: none of our versions can ever be
  // mined; with a store, "ours" includes every version any process stored for the nonce, such
  // as another replica's fee bump), FAILED_PRECONDITION (e.g. insufficient funds at send).
  absl::StatusOr<MinedTx> SubmitAndWait(uint64_t nonce, const WaitOptions& wait, const jsonrpc::CallOptions& opts);

  // Re-signs `nonce` with bumped fees (the market now, at least +bump_percent) and broadcasts
  // it. RESOURCE_EXHAUSTED when the caps leave no room.
  absl::StatusOr<SignedTx> BumpFees(uint64_t nonce, const jsonrpc::CallOptions& opts);

  // One healing / fee-bump pass (see the header comment); returns at once if a pass ran less
  // than maintain_interval ago or is running on another thread.
  void Maintain(const jsonrpc::CallOptions& opts);

  struct Stats {
    uint64_t signed_first = 0;
    uint64_t fee_bumps = 0;
    uint64_t rebroadcasts = 0;  // by Maintain and SubmitAndWait, of transactions the node forgot
    uint64_t repaired = 0;      // orphaned requests of dead processes signed again (with a store)
    uint64_t in_flight = 0;     // tracked now
    uint64_t queued = 0;        // SignNext calls waiting for a signing round of this sender
    std::optional<uint64_t> next_nonce;
  };
  Stats stats() const;

 private:
  struct Record {
    TxIntent intent;
    std::string request_id;
    std::vector<SignedTx> versions;
    absl::Time last_signed;
    absl::Time last_broadcast = absl::InfinitePast();
    absl::Time last_bump_attempt = absl::InfinitePast();
    int waiters = 0;
    JournalFn journal;
    // False until the journal of the first version returned: Maintain does not broadcast it
    // before then (within journal_grace), so nothing reaches the chain unrecorded.
    bool journaled = false;
  };

  struct Queued;
  // The leader's round: signs `batch` and hands each its result (or re-queues it when it was not
  // started).
  void SignQueued(const std::vector<Queued*>& batch) ABSL_LOCKS_EXCLUDED(queue_mu_);
  // Chooses the nonces, signs and tracks what was signed.
  std::vector<absl::StatusOr<SignedTx>> SignBatchLocked(const std::vector<Queued*>& batch,
                                                        const jsonrpc::CallOptions& opts);
  absl::StatusOr<Hash32> Broadcast(const SignedTx& tx, const jsonrpc::CallOptions& opts);
  void Notify(TxEvent event, size_t times = 1) const;
  // Records the first signature of a nonce (waited on by the caller).
  void TrackFirst(const TxIntent& intent, const std::string& request_id, const SignedTx& tx, JournalFn journal)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls the journal of a first signature; on failure the caller is detached and gets the error.
  absl::StatusOr<SignedTx> Journaled(SignedTx tx);
  absl::StatusOr<SignedTx> BroadcastBump(SignedTx bumped, const jsonrpc::CallOptions& opts);
  // The envelope of a fee bump of `newest` (fees from the market, at least +bump_percent).
  absl::StatusOr<TxEnvelope> BumpEnvelope(const SignedTx& newest, const std::string& request_id, size_t count,
                                          const jsonrpc::CallOptions& opts);
  // Maintain's bump of a stuck nonce (with a store: only if no process bumped it lately).
  void BumpStuck(uint64_t nonce, const jsonrpc::CallOptions& opts);

  // With a store (nonce_allocator_shared.cc).
  absl::StatusOr<SignedTx> SignNextShared(const TxIntent& intent, TxEnvelope envelope, JournalFn journal,
                                          const jsonrpc::CallOptions& opts);
  // Under the hold: orphans repaired, then the nonce chosen.
  absl::StatusOr<uint64_t> RepairAndChoose(SenderHold& hold, const jsonrpc::CallOptions& opts);
  absl::StatusOr<SignedTx> BumpFeesShared(uint64_t nonce, const jsonrpc::CallOptions& opts, bool only_if_stuck);
  absl::StatusOr<SignedTx> SignBumpShared(SenderHold& hold, uint64_t nonce, const jsonrpc::CallOptions& opts,
                                          bool only_if_stuck);
  // Maintain: tells the store what the chain says, tracks the open slots of other processes (so
  // they are healed and bumped here too) and repairs orphans older than journal_grace.
  void SyncFromStore(uint64_t latest, const jsonrpc::CallOptions& opts);
  // Adds to `into` the versions of `from` it does not hold (by hash), then sorts it by fees,
  // lowest first; true if any was added.
  static bool AddVersions(std::vector<SignedTx>& into, const std::vector<SignedTx>& from);
  // Adds the versions of `journal` to its record (creating one without waiters).
  void Merge(const TxJournal& journal, absl::Duration since_signed, absl::Duration since_bump_attempt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls the record's journal with its versions plus `extra` (a fee bump not yet added).
  absl::Status CallJournal(uint64_t nonce, const SignedTx* extra = nullptr);
  // Receipt of any version of `nonce`, newest first.
  absl::StatusOr<std::optional<std::pair<jsonrpc::Receipt, SignedTx>>> FindReceipt(
      const std::vector<SignedTx>& versions, const jsonrpc::CallOptions& opts);
  // Whether the node knows any of `versions` (pending or mined).
  absl::StatusOr<bool> AnyKnown(const std::vector<SignedTx>& versions, const jsonrpc::CallOptions& opts);
  void MaintainLocked(const jsonrpc::CallOptions& opts);
  // The steps of SubmitAndWait; WaitState (in the .cc) is one wait in progress.
  struct WaitState;
  absl::Status SendNewest(WaitState& w);
  // One poll of the receipts: the final result once mined (or failed), nullopt to keep waiting.
  std::optional<absl::StatusOr<MinedTx>> Poll(WaitState& w);
  // Whether a wait whose broadcast the node just accepted polls at once (WaitOptions.first_poll).
  bool PollAtOnce(const WaitOptions& wait);
  void CloseMinedSlots(const jsonrpc::CallOptions& opts);
  std::optional<absl::StatusOr<MinedTx>> OnReceipt(WaitState& w, const jsonrpc::Receipt& receipt, const SignedTx& tx);
  std::string RevertReason(const jsonrpc::Receipt& receipt, const SignedTx& tx, const jsonrpc::CallOptions& call);
  // No receipt: notices a vanished one, a nonce used by another transaction, or re-broadcasts.
  absl::Status OnNoReceipt(WaitState& w);
  // With a store: adds the versions other processes stored for the nonce (a fee bump) to the
  // record and the wait; true if there were any it did not know.
  absl::StatusOr<bool> MergeStoredVersions(WaitState& w);
  absl::Status Rebroadcast(WaitState& w);

  jsonrpc::Client& rpc_;
  TxSigner& signer_;
  const uint64_t chain_id_;
  const Address sender_;
  const NonceAllocatorOptions options_;
  NonceStore* const store_;

  // SignNext calls waiting for the leader (without a store).
  mutable absl::Mutex queue_mu_;
  std::deque<Queued*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool leading_ ABSL_GUARDED_BY(queue_mu_) = false;
  // Serializes nonce choice + signing (and fee-bump signing) for this sender.
  absl::Mutex sign_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex maintain_mu_;
  mutable absl::Mutex mu_;
  std::optional<uint64_t> next_nonce_ ABSL_GUARDED_BY(mu_);
  // Free nonces below next_nonce_: an item refused under a later signed one (see SignBatchLocked).
  std::set<uint64_t> gaps_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Record> records_ ABSL_GUARDED_BY(mu_);
  absl::Time last_maintain_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  Stats stats_ ABSL_GUARDED_BY(mu_);
  // The latest poll at once after a fresh broadcast found no receipt; waits since then that
  // skipped it (WaitOptions.recheck_poll_at_once).
  bool poll_at_once_missed_ ABSL_GUARDED_BY(mu_) = false;
  int poll_at_once_skipped_ ABSL_GUARDED_BY(mu_) = 0;
};

// True for SubmitAndWait's "nonce used by another transaction" (ABORTED with a marker payload).
bool IsNonceConflict(const absl::Status& status);

// One NonceAllocator per (chain id, sender), created on first use. Thread-safe.
class NonceRegistry {
 public:
  NonceRegistry(jsonrpc::Client& rpc, TxSigner& signer, NonceAllocatorOptions options = {},
                NonceStore* store = nullptr);
  NonceAllocator& For(uint64_t chain_id, const Address& sender);

 private:
  jsonrpc::Client& rpc_;
  TxSigner& signer_;
  const NonceAllocatorOptions options_;
  NonceStore* const store_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::pair<uint64_t, Address>, std::unique_ptr<NonceAllocator>> allocators_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chain::onchain

#endif  // ONCHAIN_KMS_CHAIN_ONCHAIN_NONCE_ALLOCATOR_H_
