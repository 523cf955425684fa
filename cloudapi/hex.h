// Hex helpers for cloudapi/. chain/hex.h will replace them once cloudapi may depend on chain/.
#ifndef ONCHAIN_KMS_CLOUDAPI_HEX_H_
#define ONCHAIN_KMS_CLOUDAPI_HEX_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/bytes.h"

namespace cloudapi {

// Lowercase, no prefix.
std::string HexEncode(crypto::ByteView bytes);

// Digits of either case, an optional "0x"/"0X" prefix, an even count. `what` names the field in
// errors ("<what>: odd number of hex digits (N)", "<what>: bad hex character at position N").
// The input is never echoed (it may be secret).
absl::StatusOr<crypto::Bytes> HexDecode(absl::string_view hex, absl::string_view what);

// As HexDecode, and exactly `size` bytes ("<what>: want N hex digits, got M").
absl::StatusOr<crypto::Bytes> HexDecodeExact(absl::string_view hex, size_t size,
                                             absl::string_view what);

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_HEX_H_
