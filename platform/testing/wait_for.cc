#include "platform/testing/wait_for.h"

#include "absl/time/clock.h"

namespace platform::testing {

bool WaitFor(absl::FunctionRef<bool()> condition, absl::Duration timeout, absl::Duration interval) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(interval);
  }
  return condition();
}

}  // namespace platform::testing
