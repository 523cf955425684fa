// Test support: wait for a condition instead of sleeping and hoping it holds.
#ifndef ONCHAIN_KMS_PLATFORM_TESTING_WAIT_FOR_H_
#define ONCHAIN_KMS_PLATFORM_TESTING_WAIT_FOR_H_

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"

namespace platform::testing {

// How long a test waits for something another thread or process does: generous, because on a
// loaded 2-core machine "a few milliseconds" can take seconds; a passing test returns as soon as
// the condition holds, so only a failing one pays it.
inline constexpr absl::Duration kEventually = absl::Seconds(30);

// Evaluates `condition` every `interval` until it is true (returns true) or `timeout` has passed
// (returns false after one last evaluation).
bool WaitFor(absl::FunctionRef<bool()> condition, absl::Duration timeout = kEventually,
             absl::Duration interval = absl::Milliseconds(10));

}  // namespace platform::testing

#endif  // ONCHAIN_KMS_PLATFORM_TESTING_WAIT_FOR_H_
