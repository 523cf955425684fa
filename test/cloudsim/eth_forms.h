// The text forms of addresses and 32-byte hashes the simulator's modules accept and answer with
// (hex itself is chain/hex.h).
#ifndef ONCHAIN_KMS_TEST_CLOUDSIM_ETH_FORMS_H_
#define ONCHAIN_KMS_TEST_CLOUDSIM_ETH_FORMS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace cloudsim {

using Bytes = std::vector<uint8_t>;

// True if `s` (optional 0x prefix) is exactly `nbytes` bytes of hex.
bool IsHexOfSize(absl::string_view s, size_t nbytes);

// "0xAbC..." / "abc..." -> "abc..." (40 lower-case hex chars), nullopt if not a 20-byte address.
std::optional<std::string> NormalizeAddress(absl::string_view s);

// 32-byte hash with or without 0x -> 64 lower-case hex chars, nullopt otherwise.
std::optional<std::string> NormalizeBytes32(absl::string_view s);

// EIP-55 mixed-case checksum form with 0x, from 40 hex chars (any case, optional 0x).
// Returns the input unchanged when it is not an address.
std::string ChecksumAddress(absl::string_view addr);

}  // namespace cloudsim

#endif  // ONCHAIN_KMS_TEST_CLOUDSIM_ETH_FORMS_H_
