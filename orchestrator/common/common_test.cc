#include <set>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "orchestrator/common/ids.h"

namespace orchestrator {
namespace {

TEST(IdsTest, PrefixedSortableUnique) {
  std::set<std::string> ids;
  const absl::Time now = absl::Now();
  for (int i = 0; i < 1000; ++i) ids.insert(NewOperationId(now));
  EXPECT_EQ(ids.size(), 1000u);
  const std::string a = NewOperationId(absl::FromUnixMillis(1000));
  const std::string b = NewOperationId(absl::FromUnixMillis(2000));
  EXPECT_EQ(a.size(), 29u);
  EXPECT_EQ(a.substr(0, 3), "op_");
  EXPECT_LT(a, b);
}

}  // namespace
}  // namespace orchestrator
