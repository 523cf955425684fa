#include <set>
#include <string>

#include "absl/time/clock.h"
#include "chain/hex.h"
#include "gtest/gtest.h"
#include "orchestrator/common/hmac.h"
#include "orchestrator/common/ids.h"

namespace orchestrator {
namespace {

std::string Hex(const crypto::Sha256Digest& d) { return chain::ToHex(chain::ByteView(d.data(), d.size()), false); }

TEST(HmacTest, Rfc4231Vectors) {
  // Test case 2.
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a 131-byte key (hashed first).
  EXPECT_EQ(Hex(HmacSha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

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
