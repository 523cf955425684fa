// One signature request as it is recorded before the signer sees it: the envelope and the call.
// Kept so that a request whose answer was lost (a crash, a dead replica) can be asked again
// byte for byte: the signer then answers REPEAT with the bytes it signed, or signs it now.
#ifndef ONCHAIN_KMS_CHAIN_ONCHAIN_TX_REQUEST_H_
#define ONCHAIN_KMS_CHAIN_ONCHAIN_TX_REQUEST_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/onchain/tx_signer.h"
#include "chain/u256.h"

namespace chain::onchain {

// {"v":1,"request_id":..,"chain_id":..,"from":..,"nonce":..,"gas_limit":..,"max_fee_per_gas":..,
//  "max_priority_fee_per_gas":..,"to":..,"data":"0x.."}: fees as decimal strings.
std::string EncodeTxRequest(const TxRequest& request);
// INVALID_ARGUMENT naming what is wrong (malformed JSON or field, a call that is neither intent).
absl::StatusOr<TxRequest> DecodeTxRequest(absl::string_view text);

// The fees and gas of a request, zero-padded so that keys sort by max fee:
// "<max fee, 78 digits>/<priority fee>/<gas limit>". A signed version covers the request with
// the same key.
std::string RequestKey(const U256& max_fee_per_gas, const U256& max_priority_fee_per_gas, uint64_t gas_limit);
inline std::string RequestKey(const TxEnvelope& e) {
  return RequestKey(e.max_fee_per_gas, e.max_priority_fee_per_gas, e.gas_limit);
}
inline std::string RequestKey(const SignedTx& tx) {
  return RequestKey(tx.max_fee_per_gas, tx.max_priority_fee_per_gas, tx.gas_limit);
}

// The signer refused for good: "A refused request never yields a signature" (signer.proto).
// INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, RESOURCE_EXHAUSTED, FAILED_PRECONDITION.
bool IsDefinitiveRefusal(const absl::Status& status);

}  // namespace chain::onchain

#endif  // ONCHAIN_KMS_CHAIN_ONCHAIN_TX_REQUEST_H_
