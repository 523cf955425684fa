// Keccak-256 (the original Keccak padding used by Ethereum, not NIST SHA3-256).
//
// OpenSSL 3.0 exposes only SHA3 (0x06 padding), so the permutation is implemented here.
#ifndef ONCHAIN_KMS_CHAIN_KECCAK_H_
#define ONCHAIN_KMS_CHAIN_KECCAK_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "chain/bytes.h"
#include "chain/hash32.h"

namespace chain {

// One-shot digest.
Hash32 Keccak256(ByteView data);
// Digest of the bytes of `text` (no hex decoding).
Hash32 Keccak256(absl::string_view text);

// Incremental digest: Update any number of times, then Final once (Final resets the hasher).
class Keccak256Hasher {
 public:
  static constexpr size_t kRate = 136;  // bytes absorbed per permutation (1600 - 2*256 bits)

  Keccak256Hasher() { Reset(); }

  void Reset();
  void Update(ByteView data);
  void Update(absl::string_view text);
  Hash32 Final();

 private:
  uint64_t state_[25];
  uint8_t buffer_[kRate];
  size_t buffered_;
};

// The Keccak-f[1600] permutation on 25 little-endian lanes, lane index x + 5*y. Exposed so the
// permutation can be tested on its own.
void KeccakF1600(uint64_t state[25]);

}  // namespace chain

#endif  // ONCHAIN_KMS_CHAIN_KECCAK_H_
