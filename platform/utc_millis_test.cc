#include "platform/utc_millis.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/clock.h"

namespace platform {
namespace {

// The same bytes as absl::FormatTime over 1970..9999 (leap days, centuries, the last instant).
TEST(UtcMillis, IsFormatTimesMilliseconds) {
  std::vector<absl::Time> times = {
      absl::UnixEpoch(),
      absl::FromCivil(absl::CivilSecond(2000, 2, 29, 23, 59, 59), absl::UTCTimeZone()) + absl::Microseconds(999999),
      absl::FromCivil(absl::CivilSecond(2024, 2, 29, 0, 0, 0), absl::UTCTimeZone()),
      absl::FromCivil(absl::CivilSecond(2100, 3, 1, 12, 30, 5), absl::UTCTimeZone()) + absl::Nanoseconds(999999),
      absl::FromCivil(absl::CivilSecond(2026, 12, 31, 23, 59, 59), absl::UTCTimeZone()) + absl::Milliseconds(999),
      absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::UTCTimeZone()) + absl::Milliseconds(999),
      absl::Now(),
  };
  uint64_t x = 88172645463325252ull;  // xorshift: fixed instants spread over 1970..9999
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    times.push_back(absl::UnixEpoch() + absl::Microseconds(static_cast<int64_t>(x % 253402300800000000ull)));
  }
  for (absl::Time t : times) {
    ASSERT_EQ(UtcMillis(t), absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone())) << t;
  }
}

}  // namespace
}  // namespace platform
