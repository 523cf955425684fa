// DEPRECATED shim, kept only because //test/sdk_oracle still includes it: use chain/hex.h
// (chain::ToHex(bytes, /*prefix=*/false), chain::FromHex, chain::FromHexInto). Delete this file
// and the //cloudapi:hex target once test/sdk_oracle has switched.
#ifndef ONCHAIN_KMS_CLOUDAPI_HEX_H_
#define ONCHAIN_KMS_CLOUDAPI_HEX_H_

#include <string>

#include "chain/hex.h"
#include "crypto/bytes.h"

namespace cloudapi {

// Lowercase, no prefix.
inline std::string HexEncode(crypto::ByteView bytes) { return chain::ToHex(bytes, false); }

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_HEX_H_
