#include "orchestrator/kmsctl/backoff.h"

#include <set>

#include "gtest/gtest.h"

namespace kmsctl {
namespace {

TEST(BackoffTest, GrowsToTheCapWithJitterInsideTheBounds) {
  const absl::Duration initial = absl::Milliseconds(100);
  const absl::Duration max = absl::Seconds(2);
  for (uint32_t seed = 0; seed < 50; ++seed) {
    Backoff backoff(initial, max, seed);
    absl::Duration base = initial;
    for (int i = 0; i < 12; ++i) {
      const absl::Duration d = backoff.Next();
      EXPECT_GE(d, initial);
      EXPECT_LE(d, max);
      EXPECT_GE(d, std::min(base * 0.8, max)) << "attempt " << i;
      EXPECT_LE(d, std::max(base * 1.2, initial)) << "attempt " << i;
      base = std::min(base * 2, max);
    }
  }
}

TEST(BackoffTest, ReachesTheCapAndStaysNearIt) {
  Backoff backoff(absl::Milliseconds(100), absl::Seconds(2), 7);
  for (int i = 0; i < 5; ++i) backoff.Next();  // 100, 200, 400, 800, 1600 ms
  for (int i = 0; i < 20; ++i) {
    const absl::Duration d = backoff.Next();
    EXPECT_GE(d, absl::Milliseconds(1600));
    EXPECT_LE(d, absl::Seconds(2));
  }
}

TEST(BackoffTest, JitterVariesAndResetStartsOver) {
  Backoff backoff(absl::Milliseconds(100), absl::Seconds(2), 1);
  std::set<int64_t> seen;
  for (int i = 0; i < 20; ++i) {
    for (int j = 0; j < 6; ++j) backoff.Next();
    backoff.Reset();
    const absl::Duration first = backoff.Next();
    EXPECT_LE(first, absl::Milliseconds(120));
    EXPECT_GE(first, absl::Milliseconds(100));
    seen.insert(absl::ToInt64Microseconds(backoff.Next()));  // 160..240 ms, jittered
  }
  EXPECT_GT(seen.size(), 10u);
}

TEST(BackoffTest, AMaxBelowTheInitialDelayIsTheInitialDelay) {
  Backoff backoff(absl::Milliseconds(100), absl::Milliseconds(10), 3);
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(100));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(100));
}

}  // namespace
}  // namespace kmsctl
