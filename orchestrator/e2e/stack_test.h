// The gtest fixture of the e2e suites: one Stack for the whole suite (started in the derived
// suite's SetUpTestSuite through StartStack, stopped after its last test), and after a failed
// test the orchestrator's log printed and every log of the stack kept (Stack::KeepLogs).
//
//   class FlowsE2eTest : public StackTest<> {
//    protected:
//     static void SetUpTestSuite() { StartStack(); }
//   };
#ifndef ONCHAIN_KMS_ORCHESTRATOR_E2E_STACK_TEST_H_
#define ONCHAIN_KMS_ORCHESTRATOR_E2E_STACK_TEST_H_

#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "orchestrator/e2e/stack.h"

namespace orchestrator::e2e {

// `Base`: ::testing::Test, or ::testing::TestWithParam<T> for a parameterized suite.
template <typename Base = ::testing::Test>
class StackTest : public Base {
 protected:
  // Starts the stack, and its orchestrator unless `start_orchestrator` is false.
  static void StartStack(const StackOptions& options = {}, bool start_orchestrator = true) {
    absl::StatusOr<std::unique_ptr<Stack>> s = Stack::Start(options);
    ASSERT_TRUE(s.ok()) << s.status();
    stack_ = *std::move(s);
    if (!start_orchestrator) return;
    absl::Status st = stack_->StartOrchestrator();
    ASSERT_TRUE(st.ok()) << st;
  }
  static void TearDownTestSuite() { stack_.reset(); }

  void SetUp() override { ASSERT_NE(stack_, nullptr); }
  void TearDown() override {
    if (Base::HasFailure()) {
      std::fprintf(stderr, "---- orchestrator log ----\n%s\n", stack_->orchestrator_log().c_str());
      if (const std::string kept = stack_->KeepLogs(); !kept.empty()) {
        std::fprintf(stderr, "(every log of the stack: %s)\n", kept.c_str());
      }
    }
  }

  inline static std::unique_ptr<Stack> stack_;
};

}  // namespace orchestrator::e2e

#endif  // ONCHAIN_KMS_ORCHESTRATOR_E2E_STACK_TEST_H_
