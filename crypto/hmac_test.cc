#include "crypto/hmac.h"

#include <string>

#include "crypto/test_hex.h"
#include "gtest/gtest.h"

namespace crypto {
namespace {

using testing::FromHex;
using testing::ToHex;

std::string Mac(const Bytes& key, absl::string_view message) {
  return ToHex(HmacSha256(ByteView(key), ByteView(reinterpret_cast<const uint8_t*>(message.data()), message.size())));
}

// RFC 4231, section 4 (HMAC-SHA-256 results).
TEST(HmacSha256, Rfc4231) {
  EXPECT_EQ(Mac(Bytes(20, 0x0b), "Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(ToHex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Mac(Bytes(20, 0xaa), std::string(50, '\xdd')),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  EXPECT_EQ(Mac(FromHex("0102030405060708090a0b0c0d0e0f10111213141516171819"), std::string(50, '\xcd')),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  // Test case 5 publishes the first 128 bits only.
  EXPECT_EQ(Mac(Bytes(20, 0x0c), "Test With Truncation").substr(0, 32), "a3b6167473100ee06e0c796c2955552b");
  // Test cases 6 and 7: a 131-byte key, hashed first.
  EXPECT_EQ(Mac(Bytes(131, 0xaa), "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(Mac(Bytes(131, 0xaa),
                "This is a test using a larger than block-size key and a larger than block-size data. The key needs "
                "to be hashed before being used by the HMAC algorithm."),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST(HmacSha256, EmptyKeyAndMessage) {
  EXPECT_EQ(ToHex(HmacSha256(ByteView(), ByteView())),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

}  // namespace
}  // namespace crypto
