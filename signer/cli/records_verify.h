// What `signer records import` checks before it writes anything: an imported record is trusted
// only as far as its signed bytes prove it (a record that claims a nonce the key never signed for
// could otherwise block that nonce, and one whose fields disagree with its bytes would make the
// signer hand out a transaction other than the one it classified).
#ifndef ONCHAIN_KMS_SIGNER_CLI_RECORDS_VERIFY_H_
#define ONCHAIN_KMS_SIGNER_CLI_RECORDS_VERIFY_H_

#include <vector>

#include "absl/status/status.h"
#include "signer/equivocation/store.h"

namespace signer::cli {

// raw_tx decodes as a signed EIP-1559 transaction, recovers to the record's sender, and matches
// its chain, nonce, to, value, data, gas limit, both fees, signing hash and tx hash; nonce_use is
// FIRST exactly for version 1. INVALID_ARGUMENT naming the field that disagrees.
absl::Status VerifyRecord(const equivocation::Record& r);

// One slot's records in slot_version order: versions 1..n, and each later version is what the
// signer itself would have accepted as a fee bump after the ones before it (equivocation::Decide),
// replacing the latest of them.
absl::Status VerifySlot(const std::vector<equivocation::Record>& slot);

}  // namespace signer::cli

#endif  // ONCHAIN_KMS_SIGNER_CLI_RECORDS_VERIFY_H_
