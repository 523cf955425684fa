#include "crypto/random.h"

#include <gtest/gtest.h>

namespace crypto {
namespace {

TEST(Random, LengthAndVariety) {
  absl::StatusOr<Bytes> a = RandomBytes(32);
  absl::StatusOr<Bytes> b = RandomBytes(32);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
}

TEST(Random, ZeroLength) {
  absl::StatusOr<Bytes> a = RandomBytes(0);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->empty());
}

TEST(Random, FillsSpan) {
  uint8_t buf[64] = {};
  ASSERT_TRUE(RandomFill(absl::MakeSpan(buf)).ok());
  int nonzero = 0;
  for (uint8_t x : buf) nonzero += x != 0;
  EXPECT_GT(nonzero, 40);  // 64 zero-initialised bytes; P(fail) is astronomically small
}

}  // namespace
}  // namespace crypto
