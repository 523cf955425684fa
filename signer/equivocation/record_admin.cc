#include "signer/equivocation/record_admin.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace signer::equivocation {

absl::StatusOr<std::vector<Record>> MissingRecords(const std::vector<Record>& stored,
                                                   const std::vector<Record>& imported) {
  std::vector<Record> missing;
  for (const Record& r : imported) {
    auto same_version =
        std::find_if(stored.begin(), stored.end(), [&](const Record& s) { return s.slot_version == r.slot_version; });
    if (same_version == stored.end()) {
      missing.push_back(r);
      continue;
    }
    if (same_version->signing_hash != r.signing_hash) {
      return absl::FailedPreconditionError(
          absl::StrCat("chain ", r.key.chain_id, " key ", r.key.sender.Checksummed(), " nonce ", r.key.nonce,
                       " version ", r.slot_version, ": the record holds transaction ", same_version->tx_hash.Hex(),
                       ", the import has ", r.tx_hash.Hex(), "; refusing a conflicting record"));
    }
  }
  return missing;
}

std::vector<std::vector<Record>> BySlot(const std::vector<Record>& records) {
  std::vector<std::vector<Record>> slots;
  for (const Record& r : records) {
    if (slots.empty() || !(slots.back().front().key == r.key)) slots.emplace_back();
    slots.back().push_back(r);
  }
  return slots;
}

}  // namespace signer::equivocation
