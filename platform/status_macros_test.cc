#include "platform/status_macros.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace {

absl::Status Fails() { return absl::NotFoundError("missing"); }
absl::Status Succeeds() { return absl::OkStatus(); }
absl::StatusOr<std::unique_ptr<int>> MoveOnly(int v) {
  if (v < 0) return absl::InvalidArgumentError("negative");
  return std::make_unique<int>(v);
}

int steps = 0;

absl::Status TwoSteps(bool fail_first) {
  steps = 0;
  RETURN_IF_ERROR(fail_first ? Fails() : Succeeds());
  ++steps;
  RETURN_IF_ERROR(MoveOnly(-1));  // a StatusOr works too
  ++steps;
  return absl::OkStatus();
}

absl::StatusOr<int> Sum(int a, int b) {
  ASSIGN_OR_RETURN(auto x, MoveOnly(a));
  ASSIGN_OR_RETURN(std::unique_ptr<int> y, MoveOnly(b));
  int total = 0;
  ASSIGN_OR_RETURN(total, absl::StatusOr<int>(*x + *y));  // an existing variable
  return total;
}

TEST(StatusMacros, ReturnIfErrorStopsAtTheFirstError) {
  EXPECT_EQ(TwoSteps(true).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(steps, 0);
  absl::Status second = TwoSteps(false);
  EXPECT_EQ(second.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(second.message(), "negative");
  EXPECT_EQ(steps, 1);
}

TEST(StatusMacros, AssignOrReturnMovesTheValueOrReturnsTheStatus) {
  ASSERT_TRUE(Sum(2, 3).ok());
  EXPECT_EQ(*Sum(2, 3), 5);
  EXPECT_EQ(Sum(1, -1).status().message(), "negative");
  EXPECT_EQ(Sum(-1, 1).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
