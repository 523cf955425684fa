// A NonceStore (chain/onchain/nonce_store.h) that also answers "which nonce did this step of this
// operation reserve": what a resumed operation adopts on any replica instead of signing anew
// (design § 5.6). Request ids are "<operation id>/<step>[/...]".
#ifndef ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_STEP_NONCES_H_
#define ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_STEP_NONCES_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/address.h"
#include "chain/onchain/nonce_store.h"

namespace orchestrator::journal {

struct StepSlot {
  uint64_t chain_id = 0;
  chain::Address sender;
  chain::onchain::SlotView slot;  // any state; versions and pending requests filled in
};

class StepNonces : public chain::onchain::NonceStore {
 public:
  // The highest nonce whose slot the step reserved (and still owns); nullopt when none.
  virtual absl::StatusOr<std::optional<StepSlot>> NewestOfStep(absl::string_view operation_id,
                                                               absl::string_view step) = 0;
};

}  // namespace orchestrator::journal

#endif  // ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_STEP_NONCES_H_
