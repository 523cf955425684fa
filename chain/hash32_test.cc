#include "chain/hash32.h"

#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"

namespace chain {
namespace {

constexpr char kHex[] = "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470";

TEST(Hash32, ParsesWithAndWithoutPrefix) {
  auto a = Hash32::FromHex(kHex);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = Hash32::FromHex(std::string(kHex).substr(2));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->Hex(), kHex);
  EXPECT_EQ(a->data()[0], 0xc5);
  EXPECT_EQ(a->bytes().size(), 32u);
}

TEST(Hash32, UppercaseInputLowercaseOutput) {
  auto a = Hash32::FromHex("0xC5D2460186F7233C927E7DB2DCC703C0E500B653CA82273B7BFAD8045D85A470");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->Hex(), kHex);
}

TEST(Hash32, RejectsWrongLengthAndBadDigits) {
  EXPECT_EQ(Hash32::FromHex("0x1234").status().message(), "hash32: want 64 hex digits, got 4");
  EXPECT_EQ(Hash32::FromHex(std::string(kHex) + "00").status().message(), "hash32: want 64 hex digits, got 66");
  std::string bad = kHex;
  bad[10] = 'x';
  EXPECT_EQ(Hash32::FromHex(bad).status().message(), "hash32: bad character 'x' at position 10");
  EXPECT_EQ(Hash32::FromBytes(Bytes(31)).status().message(), "hash32: want 32 bytes, got 31");
}

TEST(Hash32, ValueSemantics) {
  Hash32 zero;
  EXPECT_TRUE(zero.IsZero());
  auto a = *Hash32::FromHex(kHex);
  EXPECT_FALSE(a.IsZero());
  EXPECT_NE(zero, a);
  EXPECT_LT(zero, a);
  EXPECT_FALSE(a < zero);
  absl::flat_hash_set<Hash32> set = {a, zero, a};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(*Hash32::FromBytes(a.bytes()), a);
}

}  // namespace
}  // namespace chain
