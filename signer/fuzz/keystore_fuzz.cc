// Keystore V3 JSON files (a mounted volume's contents are outside input): inspection, and
// decryption with the KDF bounded so that one input costs microseconds, not a real scrypt run.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "signer/keystore/keystore_v3.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view json(reinterpret_cast<const char*>(data), size);
  signer::keystore::KdfLimits limits;
  limits.scrypt.max_n = 16;
  limits.scrypt.max_r = 8;
  limits.scrypt.max_p = 2;
  limits.scrypt.max_cost = 256;
  limits.max_pbkdf2_c = 16;
  (void)signer::keystore::InspectKeystore(json);
  static constexpr uint8_t kPassword[] = {'f', 'u', 'z', 'z'};
  (void)signer::keystore::DecryptKeystore(json, chain::ByteView(kPassword, sizeof(kPassword)), limits);
  return 0;
}
