#include "orchestrator/common/hmac.h"

#include <array>
#include <string>

#include "crypto/secure_wipe.h"

namespace orchestrator {

crypto::Sha256Digest HmacSha256(absl::string_view key, absl::string_view message) {
  constexpr size_t kBlock = 64;
  std::array<uint8_t, kBlock> k{};
  if (key.size() > kBlock) {
    const crypto::Sha256Digest kd = crypto::Sha256(key);
    std::copy(kd.begin(), kd.end(), k.begin());
  } else {
    std::copy(key.begin(), key.end(), k.begin());
  }
  std::string inner(kBlock, '\0');
  std::string outer(kBlock, '\0');
  for (size_t i = 0; i < kBlock; ++i) {
    inner[i] = static_cast<char>(k[i] ^ 0x36);
    outer[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  inner.append(message.data(), message.size());
  const crypto::Sha256Digest ih = crypto::Sha256(absl::string_view(inner));
  outer.append(reinterpret_cast<const char*>(ih.data()), ih.size());
  const crypto::Sha256Digest out = crypto::Sha256(absl::string_view(outer));
  crypto::SecureWipe(k.data(), k.size());
  crypto::SecureWipe(inner.data(), inner.size());
  crypto::SecureWipe(outer.data(), outer.size());
  return out;
}

}  // namespace orchestrator
