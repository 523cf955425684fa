// What the `signer records export | import | prune` tools need from a record, beside what the
// engine needs (store.h): both backends implement it (design docs/design/postgres-replicas.md
// § 6.4-6.5). Merges only ever add protection: a record already present is skipped, a record
// that contradicts one present refuses its whole key, and a watermark only rises.
#ifndef ONCHAIN_KMS_SIGNER_EQUIVOCATION_RECORD_ADMIN_H_
#define ONCHAIN_KMS_SIGNER_EQUIVOCATION_RECORD_ADMIN_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chain/address.h"
#include "signer/equivocation/store.h"

namespace signer::equivocation {

// Below `pruned_below` a nonce of (chain_id, sender) with no record is refused: pruning never
// reopens a nonce.
struct Watermark {
  uint64_t chain_id = 0;
  chain::Address sender;
  uint64_t pruned_below = 0;
};

// Everything one import brings for one (chain, sender): records in (nonce, slot_version) order,
// each slot's versions 1..n (checked by the caller), and the watermark if the file had one.
struct KeyRecords {
  uint64_t chain_id = 0;
  chain::Address sender;
  std::vector<Record> records;
  std::optional<uint64_t> pruned_below;
};

struct MergeResult {
  uint64_t added = 0;    // records written
  uint64_t present = 0;  // identical records already there
};

struct PruneResult {
  uint64_t pruned_below = 0;  // the watermark now (never lower than before)
  uint64_t deleted = 0;       // records removed
};

class RecordAdmin {
 public:
  virtual ~RecordAdmin() = default;

  // Every record, in (chain_id, sender bytes, nonce, slot_version) order: the same order on
  // every backend, so two exports of the same records are byte-equal.
  virtual absl::Status ForEachRecord(const std::function<void(const Record&)>& fn) = 0;
  // Every watermark, in (chain_id, sender bytes) order.
  virtual absl::StatusOr<std::vector<Watermark>> Watermarks() = 0;
  // In one transaction: adds the records of `key` that are missing, raises its watermark.
  // FAILED_PRECONDITION naming the first record that contradicts a stored one (and nothing
  // changes for this key).
  virtual absl::StatusOr<MergeResult> Merge(const KeyRecords& key) = 0;
  // In one transaction: raises the watermark of (chain_id, sender) to `below` (never lowers it)
  // and deletes its records under the watermark signed before now - `keep_recent` (the 24 h fee
  // budget still counts the recent ones).
  virtual absl::StatusOr<PruneResult> Prune(uint64_t chain_id, const chain::Address& sender, uint64_t below,
                                            absl::Duration keep_recent) = 0;
};

// The records of `imported` (one slot, versions 1..n) that `stored` (the same slot, oldest first)
// lacks. FAILED_PRECONDITION naming the slot and version when both hold a different payload for
// one version.
absl::StatusOr<std::vector<Record>> MissingRecords(const std::vector<Record>& stored,
                                                   const std::vector<Record>& imported);

// `key`'s records grouped by slot, each group in slot_version order.
std::vector<std::vector<Record>> BySlot(const std::vector<Record>& records);

}  // namespace signer::equivocation

#endif  // ONCHAIN_KMS_SIGNER_EQUIVOCATION_RECORD_ADMIN_H_
