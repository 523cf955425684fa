#include "platform/transport/peer_allowlist.h"

#include <unistd.h>

#include "gtest/gtest.h"

namespace platform {
namespace {

TEST(PeerAllowlistTest, AnyoneAllowsEveryone) {
  EXPECT_TRUE(PeerAllowlist::Anyone().Allows(0, 0));
  EXPECT_TRUE(PeerAllowlist::Anyone().Allows(65534, 65534));
}

TEST(PeerAllowlistTest, OnlyOurUidListedUidsAndGroupMembers) {
  const PeerAllowlist list = PeerAllowlist::Only(1000, {1001}, {2000});
  EXPECT_TRUE(list.Allows(1000, 1000));
  EXPECT_TRUE(list.Allows(1001, 1001));
  EXPECT_TRUE(list.Allows(4242, 2000)) << "primary gid of the connecting process";
  EXPECT_FALSE(list.Allows(4242, 4242));
  EXPECT_FALSE(list.Allows(65534, 65534));
}

TEST(PeerAllowlistTest, SupplementaryGroupsFromTheGroupDatabase) {
  // root (uid 0) is in group 0 ("root") in every passwd database we run on.
  const PeerAllowlist list = PeerAllowlist::Only(4242, {}, {0});
  EXPECT_TRUE(list.Allows(0, 12345));
  EXPECT_FALSE(PeerAllowlist::Only(4242, {}, {}).Allows(0, 0));
}

}  // namespace
}  // namespace platform
