// Byte containers shared by every chain/ module.
#ifndef ONCHAIN_KMS_CHAIN_BYTES_H_
#define ONCHAIN_KMS_CHAIN_BYTES_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace chain {

// Owned bytes.
using Bytes = std::vector<uint8_t>;
// A read-only view; decoders take a `ByteView&` and advance it as they consume input.
using ByteView = absl::Span<const uint8_t>;

}  // namespace chain

#endif  // ONCHAIN_KMS_CHAIN_BYTES_H_
