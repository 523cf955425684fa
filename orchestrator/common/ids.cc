#include "orchestrator/common/ids.h"

#include <array>
#include <cstdint>

#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"

namespace orchestrator {

std::string NewOperationId(absl::Time now) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  static absl::Mutex mu(absl::kConstInit);
  static absl::BitGen* gen = new absl::BitGen();
  std::array<uint8_t, 16> b{};
  const uint64_t ms = static_cast<uint64_t>(absl::ToUnixMillis(now));
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  {
    absl::MutexLock l(&mu);
    for (int i = 6; i < 16; ++i) b[i] = absl::Uniform<uint8_t>(*gen);
  }
  // 128 bits -> 26 base32 digits (the top two bits of the first digit are zero).
  std::string out = "op_";
  unsigned __int128 v = 0;
  for (uint8_t x : b) v = (v << 8) | x;
  char digits[26];
  for (int i = 25; i >= 0; --i) {
    digits[i] = kAlphabet[static_cast<int>(v & 31)];
    v >>= 5;
  }
  out.append(digits, 26);
  return out;
}

}  // namespace orchestrator
