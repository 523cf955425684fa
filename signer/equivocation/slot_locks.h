// In-process exclusive holds of (chain, sender, nonce) slots, handed over in arrival order (FIFO
// per slot). A request that finds its slot held waits without a thread: its continuation is
// queued and runs when the holder lets go, so many requests for one nonce cannot use up gRPC's
// callback threads and stall unrelated requests.
//
// Where a continuation runs:
//   * the slot is free: at once, on the caller's thread (the common case, no thread hop);
//   * the slot was held: on one of this object's hand-over threads. Not on the releasing thread:
//     that is a group-commit committer (the continuation reads the record and signs, which
//     would delay every other reply of the batch, and a chain of waiters would recurse on it) or
//     a gRPC thread finishing its own request (which would then serve others' requests).
//
// Bookkeeping uses std::mutex (pthread, seen by ThreadSanitizer; absl::Mutex from Debian's shared
// library is not).
#ifndef ONCHAIN_KMS_SIGNER_EQUIVOCATION_SLOT_LOCKS_H_
#define ONCHAIN_KMS_SIGNER_EQUIVOCATION_SLOT_LOCKS_H_

#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "signer/equivocation/slot_key.h"

namespace signer::equivocation {

class SlotLocks;

// The exclusive hold of one slot; the next request for it gets it when the last reference goes.
class Slot {
 public:
  ~Slot();
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  const SlotKey& key() const { return key_; }

 private:
  friend class SlotLocks;
  Slot(SlotLocks* locks, SlotKey key) : locks_(locks), key_(key) {}
  SlotLocks* locks_;
  SlotKey key_;
};

class SlotLocks {
 public:
  using Then = absl::AnyInvocable<void(std::shared_ptr<Slot>) &&>;

  explicit SlotLocks(int handover_threads = 2);
  ~SlotLocks();  // Stop()
  SlotLocks(const SlotLocks&) = delete;
  SlotLocks& operator=(const SlotLocks&) = delete;

  // Runs `then` with the slot once every request queued for it before has released it.
  void Acquire(const SlotKey& key, Then then);
  // Runs every hand-over queued, and those they cause, then stops the threads; a hand-over after
  // that runs on the releasing thread. Idempotent.
  void Stop();

  // Requests waiting for a slot now (all slots).
  size_t waiting() const;

 private:
  friend class Slot;
  void Release(const SlotKey& key);
  void Run(absl::AnyInvocable<void() &&> task);
  void HandOverLoop();

  mutable std::mutex mu_;
  // Present: the slot is held; the value: the requests waiting for it, oldest first. A list: an
  // empty one allocates nothing (a deque allocates 576 bytes even empty, and again when the map
  // rehashes it), and nearly every slot is held with nobody waiting.
  absl::flat_hash_map<SlotKey, std::list<Then>> held_;  // guarded by mu_
  size_t waiting_ = 0;                                  // guarded by mu_

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  std::deque<absl::AnyInvocable<void() &&>> ready_;  // guarded by run_mu_
  bool stopping_ = false;                            // guarded by run_mu_
  int live_threads_ = 0;                             // guarded by run_mu_
  std::vector<std::thread> threads_;
};

}  // namespace signer::equivocation

#endif  // ONCHAIN_KMS_SIGNER_EQUIVOCATION_SLOT_LOCKS_H_
