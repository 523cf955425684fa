#include "chain/u256.h"

#include <gtest/gtest.h>

#include "chain/hex.h"

namespace chain {
namespace {

constexpr char kMaxDec[] = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

TEST(U256, DecimalRoundTrip) {
  for (const char* s : {"0", "1", "9", "10", "18446744073709551615", "18446744073709551616", "10000000000000000000",
                        "1000000000000000000000000000000000000000", kMaxDec}) {
    auto v = U256::FromDecimal(s);
    ASSERT_TRUE(v.ok()) << s << v.status();
    EXPECT_EQ(v->ToDecimal(), s);
  }
  EXPECT_EQ(U256::FromDecimal("000123")->ToDecimal(), "123");
  EXPECT_EQ(*U256::FromDecimal(kMaxDec), U256::Max());
}

TEST(U256, DecimalErrors) {
  EXPECT_EQ(U256::FromDecimal("").status().message(), "u256: empty decimal string");
  EXPECT_EQ(U256::FromDecimal("12a").status().message(), "u256: bad character 'a' at position 2");
  EXPECT_EQ(U256::FromDecimal("-1").status().message(), "u256: bad character '-' at position 0");
  auto over = U256::FromDecimal("115792089237316195423570985008687907853269984665640564039457584007913129639936");
  EXPECT_EQ(over.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(over.status().message(), "u256: decimal value overflows 256 bits");
}

TEST(U256, HexQuantity) {
  EXPECT_EQ(U256::FromHex("0x0")->ToQuantityHex(), "0x0");
  EXPECT_EQ(U256::FromHex("0x00001a")->ToQuantityHex(), "0x1a");
  EXPECT_EQ(U256::FromHex("0x1A")->ToDecimal(), "26");
  EXPECT_EQ(U256(1000000000000000000ULL).ToQuantityHex(), "0xde0b6b3a7640000");
  const std::string max = "0x" + std::string(64, 'f');
  EXPECT_EQ(*U256::FromHex(max), U256::Max());
  EXPECT_EQ(U256::Max().ToQuantityHex(), max);
  // 64 significant digits after many leading zeros still fit.
  EXPECT_TRUE(U256::FromHex("0x0000" + std::string(64, 'f')).ok());
}

TEST(U256, HexErrors) {
  EXPECT_EQ(U256::FromHex("1a").status().message(), "u256: missing 0x prefix");
  EXPECT_EQ(U256::FromHex("0x").status().message(), "u256: empty hex quantity");
  EXPECT_EQ(U256::FromHex("0x1g").status().message(), "u256: bad character 'g' at position 3");
  auto over = U256::FromHex("0x1" + std::string(64, '0'));
  EXPECT_EQ(over.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(over.status().message(), "u256: hex value overflows 256 bits");
}

TEST(U256, Bytes) {
  const U256 v = *U256::FromHex("0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20");
  auto b32 = v.ToBytes32();
  for (int i = 0; i < 32; ++i) EXPECT_EQ(b32[i], i + 1);
  EXPECT_EQ(U256::FromBytes32(b32), v);
  EXPECT_EQ(*U256::FromBigEndian(ByteView(b32)), v);
  EXPECT_EQ(ToHex(U256(0x1234).ToMinimalBytes()), "0x1234");
  EXPECT_TRUE(U256().ToMinimalBytes().empty());
  EXPECT_EQ(ToHex(U256(0x80).ToMinimalBytes()), "0x80");
  EXPECT_EQ(*U256::FromBigEndian(Bytes{0, 0, 1}), U256(1));
  EXPECT_EQ(U256::FromBigEndian(Bytes(33)).status().message(), "u256: 33 bytes do not fit in 256 bits");
}

TEST(U256, CheckedArithmetic) {
  const U256 max = U256::Max();
  EXPECT_EQ(*U256::CheckedAdd(U256(~0ULL), U256(1)), U256::FromLimbs(0, 1, 0, 0));
  EXPECT_EQ(U256::CheckedAdd(max, U256(1)).status().message(), "u256: addition overflows 256 bits");
  EXPECT_TRUE(U256::CheckedAdd(max, U256()).ok());
  EXPECT_EQ(*U256::CheckedSub(U256::FromLimbs(0, 1, 0, 0), U256(1)), U256(~0ULL));
  EXPECT_EQ(*U256::CheckedSub(max, max), U256());
  EXPECT_EQ(U256::CheckedSub(U256(1), U256(2)).status().message(), "u256: subtraction underflows");
  // 10^18 * 10^18 = 10^36.
  EXPECT_EQ(U256::CheckedMul(U256(1000000000000000000ULL), U256(1000000000000000000ULL))->ToDecimal(),
            "1000000000000000000000000000000000000");
  EXPECT_EQ(*U256::CheckedMul(max, U256(1)), max);
  EXPECT_EQ(U256::CheckedMul(max, U256(2)).status().message(), "u256: multiplication overflows 256 bits");
  EXPECT_EQ(U256::CheckedMul(U256::FromLimbs(0, 0, 1, 0), U256::FromLimbs(0, 0, 1, 0)).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(*U256::CheckedMul(U256::FromLimbs(0, 1, 0, 0), U256::FromLimbs(0, 0, 1, 0)), U256::FromLimbs(0, 0, 0, 1));
}

TEST(U256, CompareAndBits) {
  EXPECT_LT(U256(5), U256(6));
  EXPECT_LT(U256(~0ULL), U256::FromLimbs(0, 1, 0, 0));
  EXPECT_GT(U256::Max(), U256::FromLimbs(~0ULL, ~0ULL, ~0ULL, 0));
  EXPECT_EQ(U256().BitLength(), 0);
  EXPECT_EQ(U256(1).BitLength(), 1);
  EXPECT_EQ(U256::Max().BitLength(), 256);
  EXPECT_TRUE(U256(7).FitsUint64());
  EXPECT_FALSE(U256::FromLimbs(0, 1, 0, 0).FitsUint64());
}

}  // namespace
}  // namespace chain
