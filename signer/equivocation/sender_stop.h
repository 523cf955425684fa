// SignBatchRequest.stop_sender_at_refusal: once a transaction item of a sender is refused, no later
// item of that sender in the call is recorded, so a refusal never leaves a free nonce under
// signatures (docs/design/batched-signing.md, "What changes" 2). The service starts a sender's
// items in order and stops at a refusal it sees; a refusal found at the record's commit (a shared
// record's 24 h budgets) stops the sender's later records in that commit and in the next ones.
#ifndef ONCHAIN_KMS_SIGNER_EQUIVOCATION_SENDER_STOP_H_
#define ONCHAIN_KMS_SIGNER_EQUIVOCATION_SENDER_STOP_H_

#include <atomic>
#include <limits>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/cord.h"

namespace signer::equivocation {

// One sender's transaction items of one SignBatch call with the flag set, by their place in the
// call: once one is refused, those after it are stopped (not those before: their records may
// share the commit that follows the refusal).
class SenderStop {
 public:
  void Refuse(int place) {
    int first = first_refused_.load(std::memory_order_relaxed);
    while (place < first && !first_refused_.compare_exchange_weak(first, place, std::memory_order_acq_rel)) {
    }
  }
  bool Stops(int place) const { return place > first_refused_.load(std::memory_order_acquire); }

 private:
  std::atomic<int> first_refused_{std::numeric_limits<int>::max()};
};

// One of those items, as its record carries it (Record::stop_at_refusal).
struct StopAtRefusal {
  StopAtRefusal(std::shared_ptr<SenderStop> s, int p) : sender(std::move(s)), place(p) {}
  bool stopped() const { return sender->Stops(place); }
  void Refuse() const { sender->Refuse(place); }

  const std::shared_ptr<SenderStop> sender;
  const int place;  // in the call
  // Set when its record is queued for a commit (Store::RecordAsync): the service may start the
  // sender's next item, whose record will be written in the same commit or a later one.
  std::atomic<bool> queued{false};
};

// Marks the ABORTED of an item not started (or its record not written) because an earlier item
// of its sender was refused: unlike a lost race (plain ABORTED), it is not classified again.
inline constexpr char kNotStartedPayload[] = "type.onchainkms.dev/signer.not_started";

inline absl::Status NotStartedError() {
  absl::Status s = absl::AbortedError("not started: an earlier item of this sender was refused");
  s.SetPayload(kNotStartedPayload, absl::Cord("1"));
  return s;
}

inline bool IsNotStarted(const absl::Status& s) {
  return absl::IsAborted(s) && s.GetPayload(kNotStartedPayload).has_value();
}

// An outcome that stops the sender: any failure but a lost race (classified again) or a
// not-started item (its sender is stopped already).
inline bool StopsSender(const absl::Status& s) { return !s.ok() && !absl::IsAborted(s); }

// The refusals within one commit, for a store's write (the shared SenderStop is set only once
// the commit is done: a transaction retried from BEGIN starts again from none).
class StoppedInCommit {
 public:
  bool Stopped(const StopAtRefusal* item) const {
    if (item == nullptr) return false;
    auto it = first_refused_.find(item->sender.get());
    return it != first_refused_.end() && item->place > it->second;
  }
  void Note(const StopAtRefusal* item, const absl::Status& outcome) {
    if (item == nullptr || !StopsSender(outcome)) return;
    auto [it, inserted] = first_refused_.try_emplace(item->sender.get(), item->place);
    if (!inserted && item->place < it->second) it->second = item->place;
  }

 private:
  absl::flat_hash_map<const SenderStop*, int> first_refused_;
};

}  // namespace signer::equivocation

#endif  // ONCHAIN_KMS_SIGNER_EQUIVOCATION_SENDER_STOP_H_
