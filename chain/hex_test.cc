#include "chain/hex.h"

#include <gtest/gtest.h>

namespace chain {
namespace {

TEST(Hex, EncodesLowercaseWithAndWithoutPrefix) {
  const Bytes b = {0x00, 0xab, 0xcd, 0xef, 0x12};
  EXPECT_EQ(ToHex(b), "0x00abcdef12");
  EXPECT_EQ(ToHex(b, false), "00abcdef12");
  EXPECT_EQ(ToHex(Bytes{}), "0x");
}

TEST(Hex, DecodesBothCasesAndPrefixes) {
  EXPECT_EQ(*FromHex("0xABcd"), (Bytes{0xab, 0xcd}));
  EXPECT_EQ(*FromHex("0XABcd"), (Bytes{0xab, 0xcd}));
  EXPECT_EQ(*FromHex("abcd"), (Bytes{0xab, 0xcd}));
  EXPECT_EQ(*FromHex("0x"), Bytes{});
  EXPECT_EQ(*FromHex(""), Bytes{});
}

TEST(Hex, RoundTrip) {
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(*FromHex(ToHex(all)), all);
}

TEST(Hex, OddLength) {
  auto r = FromHex("0xabc");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "hex: odd number of digits (3)");
}

TEST(Hex, BadCharacterPositionCountsPrefix) {
  auto r = FromHex("0xabzd");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "hex: bad character 'z' at position 4");
  r = FromHex("abcg");
  EXPECT_EQ(r.status().message(), "hex: bad character 'g' at position 3");
  r = FromHex(std::string("0x0\x01", 4));
  EXPECT_EQ(r.status().message(), "hex: bad character '\\x01' at position 3");
  r = FromHex("0x 1");
  EXPECT_EQ(r.status().message(), "hex: bad character ' ' at position 2");
}

TEST(Hex, PrefixPolicy) {
  EXPECT_EQ(FromHex("abcd", HexPrefix::kRequired).status().message(), "hex: missing 0x prefix");
  EXPECT_EQ(FromHex("0xabcd", HexPrefix::kForbidden).status().message(), "hex: unexpected 0x prefix");
  EXPECT_TRUE(FromHex("abcd", HexPrefix::kForbidden).ok());
  EXPECT_TRUE(FromHex("0xabcd", HexPrefix::kRequired).ok());
}

TEST(Hex, FromHexIntoExactSize) {
  uint8_t out[2];
  EXPECT_TRUE(FromHexInto("0x1234", absl::MakeSpan(out), HexPrefix::kOptional, "f").ok());
  EXPECT_EQ(out[0], 0x12);
  EXPECT_EQ(out[1], 0x34);
  EXPECT_EQ(FromHexInto("0x123456", absl::MakeSpan(out), HexPrefix::kOptional, "f").message(),
            "f: want 4 hex digits, got 6");
  EXPECT_EQ(FromHexInto("0x123", absl::MakeSpan(out), HexPrefix::kOptional, "f").message(),
            "f: want 4 hex digits, got 3");
}

}  // namespace
}  // namespace chain
