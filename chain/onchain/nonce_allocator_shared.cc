// The NonceAllocator's paths with a NonceStore (design § 5.4): several processes share a key.
// Choosing, recording, signing and storing the signature of a nonce happen under the store's
// hold of the sender, so the only RESERVED slot of a sender is the one being signed, and a
// process that died inside the hold left a request that the next holder repairs first.
#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chain/onchain/nonce_allocator.h"
#include "chain/onchain/nonce_repair.h"
#include "platform/status_macros.h"

namespace chain::onchain {
namespace {

using jsonrpc::CallOptions;

absl::StatusOr<TxJournal> SlotJournal(const SlotView& slot) {
  std::vector<Bytes> raws;
  for (const SignedTx& v : slot.versions) raws.push_back(v.raw);
  absl::StatusOr<TxJournal> j = TxJournal::FromVersions(std::move(raws));
  if (!j.ok()) return absl::DataLossError(absl::StrCat("nonce ", slot.nonce, " in the store: ", j.status().message()));
  return j;
}

}  // namespace

absl::StatusOr<SignedTx> NonceAllocator::SignNextShared(const TxIntent& intent, TxEnvelope envelope, JournalFn journal,
                                                        const CallOptions& opts) {
  SignedTx tx;
  {
    absl::MutexLock sign_lock(&sign_mu_);  // one thread per process waits on the store
    ASSIGN_OR_RETURN(std::unique_ptr<SenderHold> hold, store_->Hold(chain_id_, sender_, opts));
    ASSIGN_OR_RETURN(const uint64_t nonce, RepairAndChoose(*hold, opts));
    envelope.chain_id = chain_id_;
    envelope.from = sender_;
    envelope.nonce = nonce;
    RETURN_IF_ERROR(hold->Record({envelope, intent}, /*first=*/true));
    absl::StatusOr<SignedTx> signed_tx = SignIntent(signer_, envelope, intent);
    if (!signed_tx.ok()) {
      const absl::Status& s = signed_tx.status();
      // Refused for good: nothing was signed, the nonce is free again (VOID). Otherwise the
      // request stays recorded and the next holder asks again (it may have been signed).
      if (IsDefinitiveRefusal(s)) RETURN_IF_ERROR(hold->Refused(envelope));
      if (absl::IsFailedPrecondition(s)) {
        // Anti-equivocation: the signer holds another transaction for this nonce (the key was
        // used outside this store). Retry later rather than fail the operation.
        return absl::UnavailableError(absl::StrCat("nonce ", nonce, " of ", sender_.Checksummed(),
                                                   " is taken at the signer by another transaction: ", s.message()));
      }
      return s;
    }
    tx = *std::move(signed_tx);
    {
      absl::MutexLock l(&mu_);
      TrackFirst(intent, envelope.request_id, tx, std::move(journal));
    }
    // Stored before the hold ends, so no other process sees the slot RESERVED while we live.
    if (absl::Status s = store_->Signed(*Journal(nonce)); !s.ok()) {
      Release(nonce);  // the request stays recorded: the next holder repairs it (REPEAT)
      return absl::Status(s.code(), absl::StrCat("storing ", tx.hash.Hex(), " (nonce ", nonce, "): ", s.message()));
    }
  }
  return Journaled(std::move(tx));
}

absl::StatusOr<uint64_t> NonceAllocator::RepairAndChoose(SenderHold& hold, const CallOptions& opts) {
  ASSIGN_OR_RETURN(const std::vector<SlotView> open, hold.Open());
  ASSIGN_OR_RETURN(const std::vector<TxJournal> repaired, RepairOrphans(*store_, hold, signer_, open));
  if (!repaired.empty()) {
    absl::MutexLock l(&mu_);
    for (const TxJournal& j : repaired) Merge(j, absl::ZeroDuration(), absl::InfiniteDuration());
    stats_.repaired += repaired.size();
    Notify(TxEvent::kRepaired, repaired.size());
  }
  ASSIGN_OR_RETURN(const std::optional<uint64_t> floor, hold.Floor());
  uint64_t nonce = 0;
  if (!open.empty() && floor.has_value()) {
    nonce = *floor;
  } else {
    // Nothing in flight: the chain may know transactions sent with this key elsewhere.
    ASSIGN_OR_RETURN(const uint64_t pending, rpc_.GetTransactionCount(sender_, jsonrpc::BlockId::Pending(), opts));
    nonce = std::max(pending, floor.value_or(0));
  }
  absl::MutexLock l(&mu_);
  next_nonce_ = nonce;
  return nonce;
}

absl::StatusOr<SignedTx> NonceAllocator::BumpFeesShared(uint64_t nonce, const CallOptions& opts, bool only_if_stuck) {
  SignedTx bumped;
  {
    absl::MutexLock sign_lock(&sign_mu_);
    ASSIGN_OR_RETURN(std::unique_ptr<SenderHold> hold, store_->Hold(chain_id_, sender_, opts));
    ASSIGN_OR_RETURN(bumped, SignBumpShared(*hold, nonce, opts, only_if_stuck));
  }
  if (absl::Status j = CallJournal(nonce); !j.ok()) {
    return absl::Status(j.code(), absl::StrCat("journal of fee bump ", bumped.hash.Hex(), ": ", j.message()));
  }
  return BroadcastBump(std::move(bumped), opts);
}

absl::StatusOr<SignedTx> NonceAllocator::SignBumpShared(SenderHold& hold, uint64_t nonce, const CallOptions& opts,
                                                        bool only_if_stuck) {
  ASSIGN_OR_RETURN(const std::vector<SlotView> open, hold.Open());
  auto slot = std::find_if(open.begin(), open.end(), [&](const SlotView& s) {
    return s.nonce == nonce && s.state == SlotView::State::kSigned && !s.versions.empty();
  });
  if (slot == open.end()) return absl::NotFoundError(absl::StrCat("fee bump: nonce ", nonce, " is not pending"));
  // The store's clock decides, so that replicas do not all bump the same nonce.
  if (only_if_stuck && (slot->since_signed < options_.stuck_after || slot->since_bump_attempt < options_.stuck_after)) {
    return absl::FailedPreconditionError(
        absl::StrCat("fee bump: nonce ", nonce, " was signed or bumped less than stuck_after ago"));
  }
  RETURN_IF_ERROR(hold.MarkBumpAttempt(nonce));
  ASSIGN_OR_RETURN(TxJournal journal, SlotJournal(*slot));
  ASSIGN_OR_RETURN(const TxEnvelope env,
                   BumpEnvelope(journal.newest(), slot->request_id, journal.versions.size(), opts));
  RETURN_IF_ERROR(hold.Record({env, journal.intent}, /*first=*/false));
  absl::StatusOr<SignedTx> bumped = SignIntent(signer_, env, journal.intent);
  if (!bumped.ok()) {
    if (IsDefinitiveRefusal(bumped.status())) RETURN_IF_ERROR(hold.Refused(env));
    return bumped.status();
  }
  journal.versions.push_back(*bumped);
  RETURN_IF_ERROR(store_->Signed(journal));
  absl::MutexLock l(&mu_);
  Merge(journal, absl::ZeroDuration(), absl::ZeroDuration());
  ++stats_.fee_bumps;
  Notify(TxEvent::kFeeBump);
  return bumped;
}

void NonceAllocator::SyncFromStore(uint64_t latest, const CallOptions& opts) {
  if (!store_->Chain(chain_id_, sender_, latest).ok()) return;
  absl::StatusOr<std::vector<SlotView>> open = store_->Open(chain_id_, sender_);
  if (!open.ok()) return;
  bool orphans = false;
  {
    absl::MutexLock l(&mu_);
    for (const SlotView& slot : *open) {
      if (!slot.pending.empty() && slot.since_signed >= options_.journal_grace) orphans = true;
      if (slot.versions.empty()) continue;
      absl::StatusOr<TxJournal> j = SlotJournal(slot);
      if (j.ok()) Merge(*j, slot.since_signed, slot.since_bump_attempt);
    }
  }
  if (!orphans) return;
  // A request older than the grace with no signature: its process died inside the hold.
  absl::MutexLock sign_lock(&sign_mu_);
  absl::StatusOr<std::unique_ptr<SenderHold>> hold = store_->Hold(chain_id_, sender_, opts);
  if (!hold.ok()) return;
  absl::StatusOr<std::vector<SlotView>> held = (*hold)->Open();
  if (!held.ok()) return;
  absl::StatusOr<std::vector<TxJournal>> repaired = RepairOrphans(*store_, **hold, signer_, *held);
  if (!repaired.ok()) return;
  absl::MutexLock l(&mu_);
  for (const TxJournal& j : *repaired) Merge(j, absl::ZeroDuration(), absl::InfiniteDuration());
  stats_.repaired += repaired->size();
  Notify(TxEvent::kRepaired, repaired->size());
}

void NonceAllocator::Merge(const TxJournal& journal, absl::Duration since_signed, absl::Duration since_bump_attempt) {
  const absl::Time now = absl::Now();
  auto [it, inserted] = records_.try_emplace(journal.nonce);
  Record& r = it->second;
  if (inserted) {
    r.intent = journal.intent;
    r.last_signed = now - since_signed;
    r.journaled = true;  // it comes from the store
  }
  AddVersions(r.versions, journal.versions);
  r.last_signed = std::max(r.last_signed, now - since_signed);
  r.last_bump_attempt = std::max(r.last_bump_attempt, now - since_bump_attempt);
}

}  // namespace chain::onchain
