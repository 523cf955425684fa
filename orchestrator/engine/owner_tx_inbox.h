// Owner transactions handed over by SubmitOwnerTransaction, waiting for the step that waits for
// the owner (flows/owner_action.h) to pick them up. In memory only: a transaction handed over
// just before a restart is found again by the step's own watch of the chain (the journaled
// cursor is at or before its block), so nothing depends on this surviving.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_ENGINE_OWNER_TX_INBOX_H_
#define ONCHAIN_KMS_ORCHESTRATOR_ENGINE_OWNER_TX_INBOX_H_

#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "chain/hash32.h"

namespace orchestrator::engine {

class OwnerTxInbox {
 public:
  struct Entry {
    chain::Hash32 transaction_hash;
    std::string request_id;
  };
  // Replaces what `operation_id` had.
  void Put(absl::string_view operation_id, Entry entry) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    entries_[std::string(operation_id)] = std::move(entry);
  }
  std::optional<Entry> Peek(absl::string_view operation_id) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(operation_id);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  void Remove(absl::string_view operation_id) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    if (auto it = entries_.find(operation_id); it != entries_.end()) entries_.erase(it);
  }

 private:
  mutable absl::Mutex mu_;
  // Not removed when an operation is cancelled or ends otherwise: at most one entry per operation
  // ever handed a transaction, and only until the process restarts.
  std::map<std::string, Entry, std::less<>> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace orchestrator::engine

#endif  // ONCHAIN_KMS_ORCHESTRATOR_ENGINE_OWNER_TX_INBOX_H_
