#include "cloudapi/hex.h"

#include <gtest/gtest.h>

namespace cloudapi {
namespace {

TEST(Hex, RoundTrip) {
  crypto::Bytes b = {0x00, 0xab, 0xff};
  EXPECT_EQ(HexEncode(b), "00abff");
  EXPECT_EQ(*HexDecode("00ABff", "x"), b);
  EXPECT_EQ(*HexDecode("0x00abff", "x"), b);
  EXPECT_TRUE(HexDecode("", "x")->empty());
}

TEST(Hex, ErrorsNameFieldNotContent) {
  EXPECT_EQ(HexDecode("abc", "key").status().message(), "key: odd number of hex digits (3)");
  EXPECT_EQ(HexDecode("0xzz", "key").status().message(), "key: bad hex character at position 2");
  EXPECT_EQ(HexDecodeExact("0xab", 2, "key").status().message(), "key: want 4 hex digits, got 2");
  EXPECT_TRUE(HexDecodeExact("abcd", 2, "key").ok());
}

}  // namespace
}  // namespace cloudapi
