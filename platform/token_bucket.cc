#include "platform/token_bucket.h"

#include <algorithm>

namespace platform {

double TokenBucket::Available(double rate, absl::Duration per, double burst, absl::Time now) const {
  const double elapsed = std::max(0.0, absl::FDivDuration(now - refilled, per));
  return std::min(burst, tokens + elapsed * rate);
}

double TokenBucket::Refill(double rate, absl::Duration per, double burst, absl::Time now) {
  tokens = Available(rate, per, burst, now);
  refilled = now;
  return tokens;
}

bool TokenBucket::TryTake(double rate, absl::Duration per, double burst, absl::Time now) {
  if (Refill(rate, per, burst, now) < 1) return false;
  tokens -= 1;
  return true;
}

}  // namespace platform
