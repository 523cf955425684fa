// What an operation must persist to resume after a restart: every signed version of its one
// transaction (the first, then fee bumps of the same call), as raw bytes. Everything else (the
// nonce, sender, call, hashes) is recovered from those bytes, so the record cannot disagree
// with itself. Serialized as a small JSON object: {"v":1,"raw":["0x02...", ...]}.
#ifndef ONCHAIN_KMS_CHAIN_ONCHAIN_TX_JOURNAL_H_
#define ONCHAIN_KMS_CHAIN_ONCHAIN_TX_JOURNAL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/onchain/tx_signer.h"

namespace chain::onchain {

struct TxJournal {
  uint64_t chain_id = 0;
  Address from;
  uint64_t nonce = 0;
  TxIntent intent;
  std::vector<SignedTx> versions;  // oldest first; never empty in a valid journal

  const SignedTx& newest() const { return versions.back(); }
  std::string Serialize() const;
  // Decodes and checks every version: same chain, sender, nonce, to and calldata, and the
  // calldata is one of the two intents. INVALID_ARGUMENT naming the problem.
  static absl::StatusOr<TxJournal> Parse(absl::string_view text);
  // Builds a journal from signed versions (same checks as Parse).
  static absl::StatusOr<TxJournal> FromVersions(std::vector<Bytes> raws);
};

// Called with the whole journal after each signature (the first and every fee bump), before
// that version is broadcast. Returning an error stops the operation before the broadcast.
// May be called from another operation's thread (a fee bump done during its maintenance pass)
// and after the operation returned, until the transaction is mined. It must not call back into
// the NonceAllocator (fee bumps journal under the sender's signing lock).
using JournalFn = std::function<absl::Status(const TxJournal&)>;

}  // namespace chain::onchain

#endif  // ONCHAIN_KMS_CHAIN_ONCHAIN_TX_JOURNAL_H_
