#include "chain/keccak.h"

#include <gtest/gtest.h>

#include <string>

namespace chain {
namespace {

TEST(KeccakF1600, ZeroStateKnownAnswer) {
  // Keccak team's KeccakF-1600 intermediate values: first lane after one permutation of zero.
  uint64_t st[25] = {};
  KeccakF1600(st);
  EXPECT_EQ(st[0], 0xF1258F7940E1DDE7ULL);
  EXPECT_EQ(st[1], 0x84D5CCF933C0478AULL);
}

TEST(Keccak256, PublishedVectors) {
  EXPECT_EQ(Keccak256(absl::string_view("")).Hex(),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  EXPECT_EQ(Keccak256(absl::string_view("abc")).Hex(),
            "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  // Not SHA3-256("abc") = 3a985da7...: the padding byte differs.
  EXPECT_EQ(Keccak256(ByteView()).Hex(), "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
}

// Values from `cast keccak 0x6161...` (cast 1.7.1), around the 136-byte rate boundary.
TEST(Keccak256, MultiBlockAgainstCast) {
  struct Case {
    size_t n;
    const char* want;
  } cases[] = {
      {135, "0x34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446"},
      {136, "0xa6c4d403279fe3e0af03729caada8374b5ca54d8065329a3ebcaeb4b60aa386e"},
      {137, "0xd869f639c7046b4929fc92a4d988a8b22c55fbadb802c0c66ebcd484f1915f39"},
      {200, "0x96ea54061def936c4be90b518992fdc6f12f535068a256229aca54267b4d084d"},
      {272, "0xcf7fcd4f705ee749930d19ca84561a9bf62516bd90a471545fa2f49fdc7e63c8"},
      {1000, "0xb6a4ac1f51884d71f30fa397a5e155de3099e11fc0edef5d08b646e621e19de9"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Keccak256(std::string(c.n, 'a')).Hex(), c.want) << c.n << " bytes";
  }
}

TEST(Keccak256Hasher, IncrementalEqualsOneShotForEverySplit) {
  // Bytes i % 251 for i in [0, 1000): `cast keccak` gives the digest below.
  Bytes data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i % 251);
  const std::string want = "0xaf692982e84a5a9688359025660a7857cd28ee7c8d867cfa1677baf2e6d1f63b";
  ASSERT_EQ(Keccak256(data).Hex(), want);
  Keccak256Hasher h;
  for (size_t split : {0, 1, 7, 135, 136, 137, 271, 272, 999, 1000}) {
    h.Update(ByteView(data).subspan(0, split));
    h.Update(ByteView(data).subspan(split));
    EXPECT_EQ(h.Final().Hex(), want) << "split at " << split;
  }
  // Byte by byte, and Final resets the hasher for reuse.
  for (uint8_t b : data) h.Update(ByteView(&b, 1));
  EXPECT_EQ(h.Final().Hex(), want);
  EXPECT_EQ(h.Final().Hex(), "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
}

}  // namespace
}  // namespace chain
