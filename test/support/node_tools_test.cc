#include "test/support/node_tools.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace {

TEST(NodeTools, FindsRealCastBinaryThatFailsOnBadInput) {
  absl::StatusOr<std::string> cast = testsupport::CastBinary();
  ASSERT_TRUE(cast.ok()) << cast.status();
  // The real binary (unlike the .bin wrapper) reports failure through its exit code.
  std::string bad = *cast + " to-check-sum-address not-an-address >/dev/null 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
  std::string good = *cast + " to-check-sum-address 0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266 >/dev/null";
  EXPECT_EQ(std::system(good.c_str()), 0);
}

TEST(NodeTools, SourceRootHoldsWorkspace) {
  absl::StatusOr<std::string> root = testsupport::SourceRoot();
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_TRUE(std::filesystem::exists(*root + "/WORKSPACE"));
}

}  // namespace
