#include "crypto/secret_bytes.h"

#include <gtest/gtest.h>

#include <utility>

#include "crypto/secure_wipe.h"

namespace crypto {
namespace {

TEST(SecureWipe, ZeroesMemory) {
  uint8_t buf[16];
  for (int i = 0; i < 16; ++i) buf[i] = static_cast<uint8_t>(i + 1);
  SecureWipe(buf, sizeof(buf));
  for (uint8_t x : buf) EXPECT_EQ(x, 0);
  SecureWipe(nullptr, 0);  // allowed
}

TEST(SecretBytes, HoldsCopyAndMoves) {
  Bytes src = {1, 2, 3};
  SecretBytes a(src);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.view()[2], 3);
  SecretBytes b = std::move(a);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): documented state
  SecretBytes c = b.Clone();
  EXPECT_EQ(Bytes(c.view().begin(), c.view().end()), src);
  c.Clear();
  EXPECT_TRUE(c.empty());
  SecretBytes d(4);
  d = std::move(b);
  EXPECT_EQ(d.size(), 3u);
}

}  // namespace
}  // namespace crypto
