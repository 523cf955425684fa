#include "platform/process_hardening.h"

#include <sys/resource.h>

#include "gtest/gtest.h"

namespace platform {
namespace {

TEST(ProcessHardening, NotDumpableAndNoCoreFiles) {
  ASSERT_TRUE(ProcessIsDumpable()) << "a test process starts dumpable";
  ASSERT_TRUE(HardenProcess().ok());
  EXPECT_FALSE(ProcessIsDumpable());
  struct rlimit rl;
  ASSERT_EQ(::getrlimit(RLIMIT_CORE, &rl), 0);
  EXPECT_EQ(rl.rlim_cur, 0u);
  EXPECT_EQ(rl.rlim_max, 0u);
}

}  // namespace
}  // namespace platform
