// JournalingSigner::Recover with the replicas' nonce store (design § 5.6): the step's newest slot,
// repaired first if a replica died between recording a request and storing its signature.
#include "absl/strings/str_cat.h"
#include "chain/onchain/nonce_repair.h"
#include "orchestrator/engine/signing.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace orchestrator::engine {

using chain::onchain::SlotView;
using chain::onchain::TxJournal;

absl::StatusOr<std::optional<TxJournal>> JournalingSigner::RecoverStored(absl::string_view operation_id,
                                                                         absl::string_view step) {
  ASSIGN_OR_RETURN(std::optional<journal::StepSlot> found, nonces_->NewestOfStep(operation_id, step));
  if (!found.has_value()) return std::optional<TxJournal>();
  if (!found->slot.pending.empty()) {
    // Signed again under the sender's hold (REPEAT: the same bytes) or closed as refused.
    ASSIGN_OR_RETURN(std::unique_ptr<chain::onchain::SenderHold> hold,
                     nonces_->Hold(found->chain_id, found->sender, {}));
    ASSIGN_OR_RETURN(const std::vector<SlotView> open, hold->Open());
    ASSIGN_OR_RETURN(const std::vector<TxJournal> repaired, RepairOrphans(*nonces_, *hold, inner_, open));
    if (!repaired.empty()) {
      platform::log::Info("re-obtained a signature a replica did not store",
                          {{"op", std::string(operation_id)}, {"step", std::string(step)}});
    }
    ASSIGN_OR_RETURN(found, nonces_->NewestOfStep(operation_id, step));
    if (!found.has_value()) return std::optional<TxJournal>();
  }
  // VOID (refused) or CONFLICTED (another transaction took the nonce): nothing to resume, the
  // step signs anew.
  const SlotView& slot = found->slot;
  const bool resumable = slot.state == SlotView::State::kSigned || slot.state == SlotView::State::kMined;
  if (!resumable || slot.versions.empty()) return std::optional<TxJournal>();
  std::vector<chain::Bytes> raws;
  for (const chain::onchain::SignedTx& v : slot.versions) raws.push_back(v.raw);
  absl::StatusOr<TxJournal> j = TxJournal::FromVersions(std::move(raws));
  if (!j.ok()) return absl::DataLossError(absl::StrCat("nonces: ", step, " transaction: ", j.status().message()));
  return std::optional<TxJournal>(*std::move(j));
}

}  // namespace orchestrator::engine
