#include "crypto/sodium_init.h"

#include <sodium.h>

namespace crypto::internal {

absl::Status SodiumReady() {
  static const int init = sodium_init();  // thread-safe (a function-local static), idempotent
  if (init < 0) return absl::InternalError("libsodium failed to initialise");
  return absl::OkStatus();
}

}  // namespace crypto::internal
