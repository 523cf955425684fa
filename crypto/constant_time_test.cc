#include "crypto/constant_time.h"

#include <gtest/gtest.h>

namespace crypto {
namespace {

TEST(ConstantTimeEquals, Basics) {
  EXPECT_TRUE(ConstantTimeEquals(Bytes{1, 2, 3}, Bytes{1, 2, 3}));
  EXPECT_FALSE(ConstantTimeEquals(Bytes{1, 2, 3}, Bytes{1, 2, 4}));
  EXPECT_FALSE(ConstantTimeEquals(Bytes{1, 2, 3}, Bytes{1, 2}));
  EXPECT_TRUE(ConstantTimeEquals(Bytes{}, Bytes{}));
}

}  // namespace
}  // namespace crypto
