// Hex encoding and strict decoding.
#ifndef ONCHAIN_KMS_CHAIN_HEX_H_
#define ONCHAIN_KMS_CHAIN_HEX_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "chain/bytes.h"

namespace chain {

// Whether FromHex wants a "0x"/"0X" prefix.
enum class HexPrefix { kOptional, kRequired, kForbidden };

// Lowercase hex, "0x"-prefixed unless prefix=false.
std::string ToHex(ByteView bytes, bool prefix = true);

// Decodes hex digits (either case). Errors (InvalidArgument), positions count from the start of
// `hex` including any prefix:
//   "hex: missing 0x prefix", "hex: unexpected 0x prefix",
//   "hex: odd number of digits (N)", "hex: bad character 'g' at position N".
absl::StatusOr<Bytes> FromHex(absl::string_view hex, HexPrefix prefix = HexPrefix::kOptional);

// Decodes exactly out.size() bytes worth of digits into `out` (no allocation). `what` names the
// field in error messages, e.g. "hash32: want 64 hex digits, got 3".
absl::Status FromHexInto(absl::string_view hex, absl::Span<uint8_t> out, HexPrefix prefix, absl::string_view what);

// True if s starts with "0x" or "0X".
bool HasHexPrefix(absl::string_view s);

}  // namespace chain

#endif  // ONCHAIN_KMS_CHAIN_HEX_H_
