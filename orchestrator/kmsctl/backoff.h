// Exponential back-off with jitter, for retrying a lost orchestrator while kmsctl follows an
// operation. The n-th delay is `initial * 2^n`, capped at `max`, multiplied by a random factor in
// [0.8, 1.2) (so that many clients restarting together do not reconnect in step), and then
// clamped to [initial, max]. Not thread-safe.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_BACKOFF_H_
#define ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_BACKOFF_H_

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace kmsctl {

class Backoff {
 public:
  // `seed` makes the jitter reproducible in tests; by default it comes from std::random_device.
  Backoff(absl::Duration initial, absl::Duration max);
  Backoff(absl::Duration initial, absl::Duration max, uint32_t seed);

  // The delay before the next attempt; each call doubles the base delay up to `max`.
  absl::Duration Next();
  // Back to `initial` (after an attempt made progress).
  void Reset() { base_ = initial_; }

 private:
  absl::Duration initial_;
  absl::Duration max_;
  absl::Duration base_;
  std::mt19937 random_;
};

}  // namespace kmsctl

#endif  // ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_BACKOFF_H_
