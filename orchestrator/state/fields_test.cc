#include "orchestrator/state/fields.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"

namespace orchestrator::state {
namespace {

constexpr char kChecksummed[] = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
constexpr char kLower[] = "5fbdb2315678afecb367f032d93f642f64180aa3";

TEST(Fields, WritesOneForm) {
  const chain::Address a = *chain::Address::Parse(kChecksummed);
  EXPECT_EQ(ToField(a), kChecksummed);
  const chain::Hash32 h = *chain::Hash32::FromHex(std::string(64, 'A'));
  EXPECT_EQ(ToField(h), "0x" + std::string(64, 'a'));
  EXPECT_EQ(ToField(std::optional<chain::Hash32>()), "");
  EXPECT_EQ(ToField(std::optional<chain::Address>()), "");
}

TEST(Fields, ReadsEveryFormEarlierVersionsWrote) {
  const chain::Address a = *chain::Address::Parse(kChecksummed);
  EXPECT_EQ(*AddressField("app_id", kLower), a);                      // bare app id
  EXPECT_EQ(*AddressField("app_id", std::string("0x") + kLower), a);  // lowercase 0x
  EXPECT_EQ(*AddressField("app_id", kChecksummed), a);                // EIP-55
  const chain::Hash32 h = *chain::Hash32::FromHex(std::string(64, 'b'));
  EXPECT_EQ(*HashField("compose_hash", std::string(64, 'b')), h);
  EXPECT_EQ(*HashField("compose_hash", "0x" + std::string(64, 'b')), h);
}

TEST(Fields, EmptyIsAbsentElseCorrupt) {
  EXPECT_FALSE(OptionalHashField("device_id", "")->has_value());
  EXPECT_FALSE(OptionalAddressField("app_id", "")->has_value());
  EXPECT_EQ(HashField("compose_hash", "").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(AddressField("app_id", "").status().code(), absl::StatusCode::kDataLoss);
  absl::Status bad = HashField("compose_hash", "abc").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StartsWith(bad.message(), "journal: compose_hash: ")) << bad;
  EXPECT_EQ(AddressField("app_id", "0x5FbDB2315678afecb367f032d93F642f64180aA3").status().code(),
            absl::StatusCode::kDataLoss);  // bad checksum
}

}  // namespace
}  // namespace orchestrator::state
