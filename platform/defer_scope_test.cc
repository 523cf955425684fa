#include "platform/defer_scope.h"

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace platform {
namespace {

TEST(DeferScopeTest, WithoutAScopeWorkRunsAtOnce) {
  EXPECT_FALSE(DeferScope::Active());
  std::string ran;
  DeferScope::AtEnd([&] { ran += "a"; });
  EXPECT_EQ(ran, "a");
}

TEST(DeferScopeTest, TheOutermostEndRunsTheWorkInOrderAlsoWhatItDefers) {
  std::string ran;
  {
    DeferScope outer;
    EXPECT_TRUE(DeferScope::Active());
    DeferScope::AtEnd([&] {
      ran += "1";
      EXPECT_TRUE(DeferScope::Active());
      DeferScope::AtEnd([&] { ran += "3"; });  // deferred by deferred work: a later round
    });
    {
      DeferScope inner;
      DeferScope::AtEnd([&] { ran += "2"; });
    }
    EXPECT_EQ(ran, "");  // an inner scope's end runs nothing
  }
  EXPECT_EQ(ran, "123");
  EXPECT_FALSE(DeferScope::Active());
  DeferScope::AtEnd([&] { ran += "4"; });
  EXPECT_EQ(ran, "1234");
}

TEST(DeferScopeTest, AScopeIsItsThreadsOnly) {
  DeferScope scope;
  bool other_active = true;
  bool ran = false;
  std::thread([&] {
    other_active = DeferScope::Active();
    DeferScope::AtEnd([&] { ran = true; });
  }).join();
  EXPECT_FALSE(other_active);
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace platform
