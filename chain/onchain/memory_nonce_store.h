// A NonceStore in memory: several NonceAllocators of one process (each with its own signer
// client, as replicas would have) share the nonces of a key through it, with the same rules as
// the PostgreSQL store (orchestrator/journal/postgres_nonce_store.h). Nothing survives the
// process: use it where the allocators do, and the journal does not need to.
#ifndef ONCHAIN_KMS_CHAIN_ONCHAIN_MEMORY_NONCE_STORE_H_
#define ONCHAIN_KMS_CHAIN_ONCHAIN_MEMORY_NONCE_STORE_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "chain/onchain/nonce_store.h"

namespace chain::onchain {

class MemoryNonceStore final : public NonceStore {
 public:
  // `reorg_grace`: see kDefaultReorgGrace (tests of the reorg rule set zero).
  explicit MemoryNonceStore(absl::Duration reorg_grace = kDefaultReorgGrace) : reorg_grace_(reorg_grace) {}
  MemoryNonceStore(const MemoryNonceStore&) = delete;
  MemoryNonceStore& operator=(const MemoryNonceStore&) = delete;

  absl::StatusOr<std::unique_ptr<SenderHold>> Hold(uint64_t chain_id, const Address& sender,
                                                   const jsonrpc::CallOptions& opts) override;
  absl::StatusOr<std::vector<SlotView>> Open(uint64_t chain_id, const Address& sender) override;
  absl::Status Signed(const TxJournal& journal) override;
  absl::Status Chain(uint64_t chain_id, const Address& sender, uint64_t latest_count) override;
  absl::Status Conflicted(uint64_t chain_id, const Address& sender, uint64_t nonce) override;
  absl::StatusOr<std::vector<SignedTx>> Versions(uint64_t chain_id, const Address& sender, uint64_t nonce) override;

 private:
  class MemoryHold;
  struct Request {
    TxRequest request;
    enum class Outcome { kPending, kSigned, kRefused } outcome = Outcome::kPending;
  };
  struct Slot {
    SlotView::State state = SlotView::State::kReserved;
    std::string request_id;
    std::map<std::string, Request> requests;  // by RequestKey
    std::vector<SignedTx> versions;           // oldest first
    absl::Time reserved_at;
    absl::Time last_signed_at = absl::InfinitePast();
    absl::Time last_bump_at = absl::InfinitePast();
    absl::Time mined_at;
  };
  struct Sender {
    absl::Mutex hold_mu;             // held by one SenderHold at a time
    std::map<uint64_t, Slot> slots;  // guarded by the store's mu_
  };
  using Key = std::pair<uint64_t, Address>;

  Sender& SenderFor(uint64_t chain_id, const Address& sender) ABSL_LOCKS_EXCLUDED(mu_);
  static std::vector<SlotView> OpenLocked(const Sender& s, absl::Time now);

  const absl::Duration reorg_grace_;
  mutable absl::Mutex mu_;
  std::map<Key, std::unique_ptr<Sender>> senders_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chain::onchain

#endif  // ONCHAIN_KMS_CHAIN_ONCHAIN_MEMORY_NONCE_STORE_H_
