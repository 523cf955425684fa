// Where the nonces of a sender are allocated when several processes (orchestrator replicas) sign
// with the same key: the seam between the NonceAllocator (chain/) and a shared store (the
// orchestrator's PostgreSQL journal, or MemoryNonceStore for allocators in one process).
// docs/design/postgres-replicas.md § 5.
//
// A nonce is a slot: RESERVED when its first request is recorded (before the signer sees it),
// SIGNED once a version is stored (before any broadcast), then MINED, or VOID (refused, nothing
// signed: the nonce is free again) or CONFLICTED (another transaction used it on chain). Every
// request is recorded before the signer sees it and every signed version before it is
// broadcast, so a process that dies in between leaves a request that the next holder of the
// sender repairs by asking the signer again for exactly that request (REPEAT: the same bytes).
#ifndef ONCHAIN_KMS_CHAIN_ONCHAIN_NONCE_STORE_H_
#define ONCHAIN_KMS_CHAIN_ONCHAIN_NONCE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chain/address.h"
#include "chain/jsonrpc/cancel.h"
#include "chain/onchain/tx_journal.h"
#include "chain/onchain/tx_request.h"
#include "chain/onchain/tx_signer.h"

namespace chain::onchain {

// How long a slot must have been MINED before a transaction count below it is taken for a reorg.
// Counts are read by many threads and replicas at once: one read before another process saw a
// later receipt is stale, not a reorg, and must not reopen the slot that process just closed.
inline constexpr absl::Duration kDefaultReorgGrace = absl::Seconds(10);

// One nonce of a sender as the store knows it.
struct SlotView {
  enum class State { kReserved = 1, kSigned = 2, kMined = 3, kVoid = 4, kConflicted = 5 };
  uint64_t nonce = 0;
  State state = State::kReserved;
  std::string request_id;             // of the first request ("<operation>/<step>" in the orchestrator)
  std::vector<SignedTx> versions;     // oldest (lowest fee) first
  std::vector<TxRequest> pending;     // recorded, neither covered by a version nor refused
  absl::Duration since_signed;        // since the last version (or the reservation), store clock
  absl::Duration since_bump_attempt;  // InfiniteDuration when never attempted
};

// Exclusive right to choose and sign nonces of one (chain, sender) across every process sharing
// the store; released on destruction.
class SenderHold {
 public:
  virtual ~SenderHold() = default;
  // RESERVED and SIGNED slots, ascending.
  virtual absl::StatusOr<std::vector<SlotView>> Open() = 0;
  // 1 + the highest nonce ever RESERVED, SIGNED, MINED or CONFLICTED; nullopt when none.
  // VOID slots do not count: a refused nonce is taken again.
  virtual absl::StatusOr<std::optional<uint64_t>> Floor() = 0;
  // Records a request (durably, before the signer sees it). `first`: reserves the slot
  // request.envelope.nonce (new or VOID; UNAVAILABLE when another request holds it); otherwise a
  // fee bump of a slot that exists. Under the hold another request holds it only when a holder
  // that died wrote its request after its hold ended (a statement its connection had sent still
  // commits): transient, the caller chooses again under a new hold, which repairs that request.
  virtual absl::Status Record(const TxRequest& request, bool first) = 0;
  // The signer refused `envelope` for good: the request is closed, and the slot becomes VOID when
  // nothing was signed for it and nothing else is pending.
  virtual absl::Status Refused(const TxEnvelope& envelope) = 0;
  // A fee bump of `nonce` starts now (other processes then wait stuck_after before bumping it).
  virtual absl::Status MarkBumpAttempt(uint64_t nonce) = 0;
};

class NonceStore {
 public:
  virtual ~NonceStore() = default;
  // Waits for the sender (bounded by the store's lock timeout and opts.deadline); UNAVAILABLE
  // when it cannot be had now (the caller retries).
  virtual absl::StatusOr<std::unique_ptr<SenderHold>> Hold(uint64_t chain_id, const Address& sender,
                                                           const jsonrpc::CallOptions& opts) = 0;
  // Like SenderHold::Open, without the hold (a snapshot).
  virtual absl::StatusOr<std::vector<SlotView>> Open(uint64_t chain_id, const Address& sender) = 0;
  // Stores the versions of `journal` (append-only) and marks the requests they cover signed;
  // RESERVED -> SIGNED. Before any of them is broadcast.
  virtual absl::Status Signed(const TxJournal& journal) = 0;
  // What the chain says: SIGNED slots below `latest_count` are MINED; MINED ones at or above it
  // (a reorg) are SIGNED again once they have been MINED for the store's reorg grace (above).
  virtual absl::Status Chain(uint64_t chain_id, const Address& sender, uint64_t latest_count) = 0;
  // Another transaction used `nonce` on chain: none of ours can be mined.
  virtual absl::Status Conflicted(uint64_t chain_id, const Address& sender, uint64_t nonce) = 0;
  // Every version any process stored for `nonce`, whatever its slot's state (empty when none). A
  // waiting process reads them before it takes a used nonce for a conflict: the version that was
  // mined may be a fee bump another process signed.
  virtual absl::StatusOr<std::vector<SignedTx>> Versions(uint64_t chain_id, const Address& sender, uint64_t nonce) = 0;
};

}  // namespace chain::onchain

#endif  // ONCHAIN_KMS_CHAIN_ONCHAIN_NONCE_STORE_H_
