#include "signer/cli/records_verify.h"

#include "absl/strings/str_cat.h"
#include "chain/transaction.h"
#include "platform/status_macros.h"

namespace signer::cli {
namespace {

using equivocation::NonceUse;
using equivocation::Record;

absl::Status Mismatch(absl::string_view field) {
  return absl::InvalidArgumentError(absl::StrCat(field, " does not match raw_tx"));
}

}  // namespace

absl::Status VerifyRecord(const Record& r) {
  absl::StatusOr<chain::SignedEip1559Transaction> decoded = chain::DecodeSignedEip1559(r.raw);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("raw_tx is not a signed EIP-1559 transaction: ", decoded.status().message()));
  }
  absl::StatusOr<chain::Address> signer = decoded->Sender();
  if (!signer.ok() || *signer != r.key.sender) {
    return absl::InvalidArgumentError(absl::StrCat("raw_tx is not signed by sender ", r.key.sender.Checksummed()));
  }
  const chain::Eip1559Transaction& tx = decoded->tx;
  if (tx.chain_id != r.key.chain_id) return Mismatch("chain_id");
  if (tx.nonce != r.key.nonce) return Mismatch("nonce");
  if (!tx.to.has_value() || *tx.to != r.to) return Mismatch("to");
  if (tx.value != r.value) return Mismatch("value");
  if (tx.data != r.data) return Mismatch("data");
  if (tx.gas_limit != r.gas_limit) return Mismatch("gas_limit");
  if (tx.max_fee_per_gas != r.max_fee_per_gas) return Mismatch("max_fee_per_gas");
  if (tx.max_priority_fee_per_gas != r.max_priority_fee_per_gas) return Mismatch("max_priority_fee_per_gas");
  if (tx.SigningHash() != r.signing_hash) return Mismatch("signing_hash");
  if (chain::TxHash(r.raw) != r.tx_hash) return Mismatch("tx_hash");
  if ((r.slot_version == 1) != (r.nonce_use == NonceUse::kFirst)) {
    return absl::InvalidArgumentError("nonce_use: FIRST exactly for slot_version 1");
  }
  return absl::OkStatus();
}

absl::Status VerifySlot(const std::vector<Record>& slot) {
  for (size_t i = 0; i < slot.size(); ++i) {
    const Record& r = slot[i];
    if (r.slot_version != i + 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("slot_version ", r.slot_version, ": expected ", i + 1, " (versions 1..n, each once)"));
    }
    if (i == 0) {
      if (r.replaced_tx_hash.has_value()) return absl::InvalidArgumentError("replaced_tx_hash: must be null for FIRST");
      continue;
    }
    const std::vector<Record> before(slot.begin(), slot.begin() + static_cast<std::ptrdiff_t>(i));
    equivocation::Verdict v = equivocation::Decide(before, r);
    if (v.kind != equivocation::Verdict::Kind::kFeeBump) {
      return absl::InvalidArgumentError(absl::StrCat(
          "slot_version ", r.slot_version, " is not a valid fee bump: ",
          v.kind == equivocation::Verdict::Kind::kConflict ? v.conflict.message() : "the same transaction twice"));
    }
    if (r.replaced_tx_hash != v.replaced) {
      return absl::InvalidArgumentError(absl::StrCat("replaced_tx_hash: must be ", v.replaced->Hex()));
    }
  }
  return absl::OkStatus();
}

}  // namespace signer::cli
