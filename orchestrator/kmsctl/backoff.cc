#include "orchestrator/kmsctl/backoff.h"

#include <algorithm>

namespace kmsctl {

Backoff::Backoff(absl::Duration initial, absl::Duration max) : Backoff(initial, max, std::random_device()()) {}

Backoff::Backoff(absl::Duration initial, absl::Duration max, uint32_t seed)
    : initial_(initial), max_(std::max(initial, max)), base_(initial), random_(seed) {}

absl::Duration Backoff::Next() {
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  const absl::Duration delay = std::clamp(base_ * jitter(random_), initial_, max_);
  base_ = std::min(base_ * 2, max_);
  return delay;
}

}  // namespace kmsctl
