// RLP as it arrives from outside (raw transactions a node or a journal hands back): the generic
// decoder and both signed-transaction decoders. Invariants: what decodes re-encodes to the same
// bytes (the decoders are strict/canonical), and the decoded transaction's Encode() is the input.
#include <cstddef>
#include <cstdint>

#include "chain/rlp.h"
#include "chain/transaction.h"
#include "tools/fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const chain::ByteView input(data, size);
  if (absl::StatusOr<chain::rlp::Item> item = chain::rlp::DecodeWhole(input); item.ok()) {
    FUZZ_CHECK(chain::rlp::Encode(*item) == chain::Bytes(input.begin(), input.end()));
  }
  if (absl::StatusOr<chain::SignedEip1559Transaction> tx = chain::DecodeSignedEip1559(input); tx.ok()) {
    FUZZ_CHECK(tx->Encode() == chain::Bytes(input.begin(), input.end()));
    (void)tx->Sender();
  }
  if (absl::StatusOr<chain::SignedLegacyTransaction> tx = chain::DecodeSignedLegacy(input); tx.ok()) {
    FUZZ_CHECK(tx->Encode() == chain::Bytes(input.begin(), input.end()));
    (void)tx->Sender();
  }
  return 0;
}
