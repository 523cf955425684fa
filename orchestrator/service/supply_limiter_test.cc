#include "orchestrator/service/supply_limiter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace orchestrator::service {
namespace {

using ::testing::HasSubstr;

TEST(SupplyLimiterTest, PerOperationBucketRefillsOverAMinute) {
  SupplyLimiter limiter;  // 5 per minute per operation
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Take("op_1", "token:a", t0).ok()) << i;
  absl::Status s = limiter.Take("op_1", "token:a", t0);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("per operation"));
  // Another operation has its own bucket; another caller does not refill this one.
  EXPECT_TRUE(limiter.Take("op_2", "token:a", t0).ok());
  EXPECT_EQ(limiter.Take("op_1", "token:b", t0).code(), absl::StatusCode::kResourceExhausted);
  // 12 s later one token is back, and only one.
  EXPECT_TRUE(limiter.Take("op_1", "token:a", t0 + absl::Seconds(12)).ok());
  EXPECT_EQ(limiter.Take("op_1", "token:a", t0 + absl::Seconds(12)).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(limiter.Take("op_1", "token:a", t0 + absl::Minutes(2)).ok());
}

TEST(SupplyLimiterTest, PerCallerBucketSpansOperationsAndARefusalCostsNothing) {
  SupplyLimiter limiter({/*per_operation_per_minute=*/5, /*per_caller_per_minute=*/30});
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 30; ++i) EXPECT_TRUE(limiter.Take(absl::StrCat("op_", i), "token:a", t0).ok()) << i;
  absl::Status s = limiter.Take("op_x", "token:a", t0);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("per caller"));
  // The refused call did not charge op_x: another caller still has its 5 there.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Take("op_x", "token:b", t0).ok()) << i;
  EXPECT_TRUE(limiter.Take("op_y", "token:a", t0 + absl::Seconds(2)).ok());
}

TEST(SupplyLimiterTest, ManyOperationsArePrunedWithoutForgettingEmptyBuckets) {
  SupplyLimiter limiter;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter.Take("op_hot", "token:h", t0).ok());
  for (int i = 0; i < 5000; ++i) (void)limiter.Take(absl::StrCat("op_", i), absl::StrCat("token:", i), t0);
  EXPECT_EQ(limiter.Take("op_hot", "token:other", t0 + absl::Seconds(1)).code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace orchestrator::service
