#include "chain/onchain/memory_nonce_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace chain::onchain {

class MemoryNonceStore::MemoryHold final : public SenderHold {
 public:
  MemoryHold(MemoryNonceStore& store, Sender& sender) : store_(store), sender_(sender) {}
  // Hold() locked it.
  ~MemoryHold() override ABSL_NO_THREAD_SAFETY_ANALYSIS { sender_.hold_mu.Unlock(); }

  absl::StatusOr<std::vector<SlotView>> Open() override {
    absl::MutexLock l(&store_.mu_);
    return OpenLocked(sender_, absl::Now());
  }

  absl::StatusOr<std::optional<uint64_t>> Floor() override {
    absl::MutexLock l(&store_.mu_);
    for (auto it = sender_.slots.rbegin(); it != sender_.slots.rend(); ++it) {
      if (it->second.state != SlotView::State::kVoid) return std::optional<uint64_t>(it->first + 1);
    }
    return std::optional<uint64_t>();
  }

  absl::Status Record(const TxRequest& request, bool first) override {
    const uint64_t nonce = request.envelope.nonce;
    absl::MutexLock l(&store_.mu_);
    auto it = sender_.slots.find(nonce);
    if (first) {
      if (it != sender_.slots.end() && it->second.state != SlotView::State::kVoid) {
        return absl::UnavailableError(absl::StrCat("nonce ", nonce, " is reserved by ", it->second.request_id));
      }
      Slot& s = sender_.slots[nonce];
      s = Slot{};
      s.request_id = request.envelope.request_id;
      s.reserved_at = absl::Now();
      it = sender_.slots.find(nonce);
    } else if (it == sender_.slots.end()) {
      return absl::NotFoundError(absl::StrCat("fee bump of nonce ", nonce, ": no such slot"));
    }
    // A fee bump asked again with the same fees stays as it was (the PostgreSQL store's DO NOTHING).
    if (first) {
      it->second.requests[RequestKey(request.envelope)] = Request{request};
    } else {
      it->second.requests.try_emplace(RequestKey(request.envelope), Request{request});
    }
    return absl::OkStatus();
  }

  absl::Status Refused(const TxEnvelope& envelope) override {
    absl::MutexLock l(&store_.mu_);
    auto it = sender_.slots.find(envelope.nonce);
    if (it == sender_.slots.end()) return absl::OkStatus();
    Slot& s = it->second;
    if (auto r = s.requests.find(RequestKey(envelope)); r != s.requests.end()) {
      r->second.outcome = Request::Outcome::kRefused;
    }
    const bool pending = std::any_of(s.requests.begin(), s.requests.end(),
                                     [](const auto& r) { return r.second.outcome == Request::Outcome::kPending; });
    if (s.state == SlotView::State::kReserved && s.versions.empty() && !pending) s.state = SlotView::State::kVoid;
    return absl::OkStatus();
  }

  absl::Status MarkBumpAttempt(uint64_t nonce) override {
    absl::MutexLock l(&store_.mu_);
    if (auto it = sender_.slots.find(nonce); it != sender_.slots.end()) it->second.last_bump_at = absl::Now();
    return absl::OkStatus();
  }

 private:
  MemoryNonceStore& store_;
  Sender& sender_;
};

MemoryNonceStore::Sender& MemoryNonceStore::SenderFor(uint64_t chain_id, const Address& sender) {
  absl::MutexLock l(&mu_);
  std::unique_ptr<Sender>& s = senders_[{chain_id, sender}];
  if (s == nullptr) s = std::make_unique<Sender>();
  return *s;
}

absl::StatusOr<std::unique_ptr<SenderHold>> MemoryNonceStore::Hold(uint64_t chain_id, const Address& sender,
                                                                   const jsonrpc::CallOptions& opts)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {  // the MemoryHold unlocks it
  Sender& s = SenderFor(chain_id, sender);
  if (!s.hold_mu.LockWhenWithDeadline(absl::Condition::kTrue, opts.deadline)) {
    s.hold_mu.Unlock();
    return absl::UnavailableError(absl::StrCat("the nonces of ", sender.Checksummed(), " are held elsewhere"));
  }
  return std::unique_ptr<SenderHold>(new MemoryHold(*this, s));
}

std::vector<SlotView> MemoryNonceStore::OpenLocked(const Sender& s, absl::Time now) {
  std::vector<SlotView> out;
  for (const auto& [nonce, slot] : s.slots) {
    if (slot.state != SlotView::State::kReserved && slot.state != SlotView::State::kSigned) continue;
    SlotView v;
    v.nonce = nonce;
    v.state = slot.state;
    v.request_id = slot.request_id;
    v.versions = slot.versions;
    for (const auto& [key, r] : slot.requests) {
      if (r.outcome == Request::Outcome::kPending) v.pending.push_back(r.request);
    }
    v.since_signed = now - std::max(slot.reserved_at, slot.last_signed_at);
    v.since_bump_attempt = now - slot.last_bump_at;
    out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<std::vector<SlotView>> MemoryNonceStore::Open(uint64_t chain_id, const Address& sender) {
  Sender& s = SenderFor(chain_id, sender);
  absl::MutexLock l(&mu_);
  return OpenLocked(s, absl::Now());
}

absl::Status MemoryNonceStore::Signed(const TxJournal& journal) {
  Sender& s = SenderFor(journal.chain_id, journal.from);
  absl::MutexLock l(&mu_);
  auto it = s.slots.find(journal.nonce);
  if (it == s.slots.end()) {
    return absl::NotFoundError(absl::StrCat("nonce ", journal.nonce, " was never reserved"));
  }
  Slot& slot = it->second;
  for (const SignedTx& v : journal.versions) {
    const bool have =
        std::any_of(slot.versions.begin(), slot.versions.end(), [&](const SignedTx& x) { return x.hash == v.hash; });
    if (!have) slot.versions.push_back(v);
    if (auto r = slot.requests.find(RequestKey(v)); r != slot.requests.end()) {
      r->second.outcome = Request::Outcome::kSigned;
    }
  }
  std::stable_sort(slot.versions.begin(), slot.versions.end(),
                   [](const SignedTx& a, const SignedTx& b) { return a.max_fee_per_gas < b.max_fee_per_gas; });
  if (slot.state == SlotView::State::kReserved || slot.state == SlotView::State::kSigned) {
    slot.state = SlotView::State::kSigned;
    slot.last_signed_at = absl::Now();
  }
  return absl::OkStatus();
}

absl::Status MemoryNonceStore::Chain(uint64_t chain_id, const Address& sender, uint64_t latest_count) {
  Sender& s = SenderFor(chain_id, sender);
  absl::MutexLock l(&mu_);
  const absl::Time now = absl::Now();
  for (auto& [nonce, slot] : s.slots) {
    if (slot.state == SlotView::State::kSigned && nonce < latest_count) {
      slot.state = SlotView::State::kMined;
      slot.mined_at = now;
    }
    if (slot.state == SlotView::State::kMined && nonce >= latest_count && now - slot.mined_at >= reorg_grace_) {
      slot.state = SlotView::State::kSigned;
    }
  }
  return absl::OkStatus();
}

absl::Status MemoryNonceStore::Conflicted(uint64_t chain_id, const Address& sender, uint64_t nonce) {
  Sender& s = SenderFor(chain_id, sender);
  absl::MutexLock l(&mu_);
  if (auto it = s.slots.find(nonce); it != s.slots.end()) it->second.state = SlotView::State::kConflicted;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SignedTx>> MemoryNonceStore::Versions(uint64_t chain_id, const Address& sender,
                                                                 uint64_t nonce) {
  Sender& s = SenderFor(chain_id, sender);
  absl::MutexLock l(&mu_);
  auto it = s.slots.find(nonce);
  return it == s.slots.end() ? std::vector<SignedTx>() : it->second.versions;
}

}  // namespace chain::onchain
