#include "chain/address.h"

#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"

namespace chain {
namespace {

// The examples listed in EIP-55 itself (all-caps and all-lower cases included there too).
const char* const kEip55Examples[] = {
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
};

TEST(Address, Eip55ExamplesRoundTrip) {
  for (const char* s : kEip55Examples) {
    auto a = Address::Parse(s);
    ASSERT_TRUE(a.ok()) << s << ": " << a.status();
    EXPECT_EQ(a->Checksummed(), s);
    EXPECT_EQ(a->Hex(), absl::AsciiStrToLower(s));
  }
}

TEST(Address, AllLowerAndAllUpperAccepted) {
  auto lower = Address::Parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
  auto upper = Address::Parse("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED");
  ASSERT_TRUE(lower.ok() && upper.ok());
  EXPECT_EQ(*lower, *upper);
  EXPECT_EQ(lower->Checksummed(), "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
}

TEST(Address, BadChecksumRejected) {
  // One letter's case flipped from the EIP-55 example.
  auto r = Address::Parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "address: bad EIP-55 checksum");
  EXPECT_FALSE(Address::Parse("0xfb6916095ca1df60bB79Ce92cE3Ea74c37c5d359").ok());
}

TEST(Address, MalformedInput) {
  EXPECT_EQ(Address::Parse("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").status().message(),
            "address: missing 0x prefix");
  EXPECT_EQ(Address::Parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea").status().message(),
            "address: want 40 hex digits, got 38");
  EXPECT_EQ(Address::Parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00").status().message(),
            "address: want 40 hex digits, got 42");
  EXPECT_EQ(Address::Parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg").status().message(),
            "address: bad character 'g' at position 41");
  EXPECT_EQ(Address::Parse("").status().message(), "address: missing 0x prefix");
  EXPECT_EQ(Address::FromBytes(Bytes(19)).status().message(), "address: want 20 bytes, got 19");
}

TEST(Address, ValueSemantics) {
  Address zero;
  EXPECT_TRUE(zero.IsZero());
  EXPECT_EQ(zero.Checksummed(), "0x0000000000000000000000000000000000000000");
  auto a = *Address::Parse(kEip55Examples[0]);
  EXPECT_LT(zero, a);
  absl::flat_hash_set<Address> set = {a, zero, a};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(*Address::FromBytes(a.bytes()), a);
}

}  // namespace
}  // namespace chain
