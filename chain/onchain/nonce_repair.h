// Repair of orphaned signature requests (nonce_store.h): a request recorded in the store that no
// stored version covers belongs to a process that died (or lost the store) between recording it
// and storing the signature. Whoever holds the sender next asks the signer for exactly that
// request again: the signer answers REPEAT with the bytes it signed then, or signs it now if it
// never saw it; a definitive refusal closes the request (the slot goes VOID if nothing was ever
// signed for it). So a reserved nonce is always resolved before the next nonce is chosen.
#ifndef ONCHAIN_KMS_CHAIN_ONCHAIN_NONCE_REPAIR_H_
#define ONCHAIN_KMS_CHAIN_ONCHAIN_NONCE_REPAIR_H_

#include <vector>

#include "absl/status/statusor.h"
#include "chain/onchain/nonce_store.h"
#include "chain/onchain/tx_journal.h"
#include "chain/onchain/tx_signer.h"

namespace chain::onchain {

// Call with `hold` held and `slots` read under it. Returns the journals of the repaired slots
// (every stored version). The signer unreachable (or any non-definitive error) is returned
// before anything else is chosen: the caller retries later.
absl::StatusOr<std::vector<TxJournal>> RepairOrphans(NonceStore& store, SenderHold& hold, TxSigner& signer,
                                                     const std::vector<SlotView>& slots);

}  // namespace chain::onchain

#endif  // ONCHAIN_KMS_CHAIN_ONCHAIN_NONCE_REPAIR_H_
