#include "crypto/sha256.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto/test_hex.h"

namespace crypto {
namespace {

using testing::ToHex;

// FIPS 180-2 Appendix B examples.
TEST(Sha256, Abc) {
  EXPECT_EQ(ToHex(Sha256(absl::string_view("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, TwoBlockMessage) {
  EXPECT_EQ(ToHex(Sha256(absl::string_view("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, Empty) {
  EXPECT_EQ(ToHex(Sha256(ByteView())), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, MillionAs) {
  EXPECT_EQ(ToHex(Sha256(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, BytesAndTextAgree) {
  Bytes b = {'a', 'b', 'c'};
  EXPECT_EQ(Sha256(b), Sha256(absl::string_view("abc")));
}

}  // namespace
}  // namespace crypto
