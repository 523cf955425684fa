// What the orchestrator's journal hands back after a crash (SQLite or PostgreSQL rows, which an
// operator or another replica may have written): recorded signature requests and the signed
// versions of a transaction. Invariants: both re-serialize to text that parses to the same thing.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "chain/onchain/tx_journal.h"
#include "chain/onchain/tx_request.h"
#include "tools/fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  if (absl::StatusOr<chain::onchain::TxRequest> r = chain::onchain::DecodeTxRequest(text); r.ok()) {
    const std::string once = chain::onchain::EncodeTxRequest(*r);
    absl::StatusOr<chain::onchain::TxRequest> again = chain::onchain::DecodeTxRequest(once);
    FUZZ_CHECK(again.ok() && chain::onchain::EncodeTxRequest(*again) == once);
  }
  if (absl::StatusOr<chain::onchain::TxJournal> j = chain::onchain::TxJournal::Parse(text); j.ok()) {
    const std::string once = j->Serialize();
    absl::StatusOr<chain::onchain::TxJournal> again = chain::onchain::TxJournal::Parse(once);
    FUZZ_CHECK(again.ok() && again->Serialize() == once);
  }
  return 0;
}
