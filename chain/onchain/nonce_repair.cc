#include "chain/onchain/nonce_repair.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace chain::onchain {

absl::StatusOr<std::vector<TxJournal>> RepairOrphans(NonceStore& store, SenderHold& hold, TxSigner& signer,
                                                     const std::vector<SlotView>& slots) {
  std::vector<TxJournal> repaired;
  for (const SlotView& slot : slots) {
    if (slot.pending.empty()) continue;
    std::vector<Bytes> raws;
    for (const SignedTx& v : slot.versions) raws.push_back(v.raw);
    bool signed_any = false;
    for (const TxRequest& r : slot.pending) {
      absl::StatusOr<SignedTx> tx = SignIntent(signer, r.envelope, r.intent);
      if (!tx.ok()) {
        if (!IsDefinitiveRefusal(tx.status())) {
          return absl::Status(tx.status().code(), absl::StrCat("repairing the orphaned request of nonce ", slot.nonce,
                                                               ": ", tx.status().message()));
        }
        if (absl::Status s = hold.Refused(r.envelope); !s.ok()) return s;
        continue;
      }
      const bool have = std::any_of(slot.versions.begin(), slot.versions.end(),
                                    [&](const SignedTx& v) { return v.hash == tx->hash; });
      if (!have) raws.push_back(tx->raw);
      signed_any = true;
    }
    if (!signed_any) continue;
    absl::StatusOr<TxJournal> journal = TxJournal::FromVersions(std::move(raws));
    if (!journal.ok()) {
      return absl::DataLossError(absl::StrCat("nonce ", slot.nonce, " in the store: ", journal.status().message()));
    }
    if (absl::Status s = store.Signed(*journal); !s.ok()) return s;
    repaired.push_back(*std::move(journal));
  }
  return repaired;
}

}  // namespace chain::onchain
