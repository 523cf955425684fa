// The key of the anti-equivocation record: one (chain, sender, nonce) slot.
#ifndef ONCHAIN_KMS_SIGNER_EQUIVOCATION_SLOT_KEY_H_
#define ONCHAIN_KMS_SIGNER_EQUIVOCATION_SLOT_KEY_H_

#include <cstdint>
#include <utility>

#include "chain/address.h"

namespace signer::equivocation {

struct SlotKey {
  uint64_t chain_id = 0;
  chain::Address sender;
  uint64_t nonce = 0;
  friend bool operator==(const SlotKey&, const SlotKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const SlotKey& k) {
    return H::combine(std::move(h), k.chain_id, k.sender, k.nonce);
  }
};

}  // namespace signer::equivocation

#endif  // ONCHAIN_KMS_SIGNER_EQUIVOCATION_SLOT_KEY_H_
