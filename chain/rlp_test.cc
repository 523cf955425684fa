#include "chain/rlp.h"

#include <gtest/gtest.h>

#include <string>

#include "chain/hex.h"

namespace chain::rlp {
namespace {

Item S(absl::string_view s) {
  Item i;
  i.bytes.assign(s.begin(), s.end());
  return i;
}
Item B(ByteView b) {
  Item i;
  i.bytes.assign(b.begin(), b.end());
  return i;
}
Item U(uint64_t v) {
  Item i;
  Bytes enc = EncodeUint(v);
  ByteView view(enc);
  i.bytes = *DecodeBytes(view);
  return i;
}
Item BigDec(absl::string_view dec) { return B(U256::FromDecimal(dec)->ToMinimalBytes()); }
Item L(std::vector<Item> items) {
  Item i;
  i.list = true;
  i.items = std::move(items);
  return i;
}
Bytes H(absl::string_view hex) { return *FromHex(hex); }
std::string Repeat(absl::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out.append(s.data(), s.size());
  return out;
}

// ethereum/tests RLPTests/rlptest.json (valid vectors), transcribed. "#N" inputs are big
// integers. "longstring2" (1024 bytes of Lorem ipsum) is covered by LongString1024 below;
// "listofbinaries" is omitted: its `out` in the file is longer than its own list header says.
struct Valid {
  const char* name;
  Item in;
  const char* out;
};

std::vector<Valid> ValidVectors() {
  const Item asdf = L({S("asdf"), S("qwer"), S("zxcv")});
  std::vector<Item> four(4, asdf), thirty_two(32, asdf);
  return {
      {"emptystring", S(""), "0x80"},
      {"bytestring00", S(std::string(1, '\0')), "0x00"},
      {"bytestring01", S("\x01"), "0x01"},
      {"bytestring7F", S("\x7f"), "0x7f"},
      {"shortstring", S("dog"), "0x83646f67"},
      {"shortstring2", S("Lorem ipsum dolor sit amet, consectetur adipisicing eli"),
       "0xb74c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e7365637465747572206164"
       "697069736963696e6720656c69"},
      {"longstring", S("Lorem ipsum dolor sit amet, consectetur adipisicing elit"),
       "0xb8384c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e736563746574757220"
       "6164697069736963696e6720656c6974"},
      {"zero", U(0), "0x80"},
      {"smallint", U(1), "0x01"},
      {"smallint2", U(16), "0x10"},
      {"smallint3", U(79), "0x4f"},
      {"smallint4", U(127), "0x7f"},
      {"mediumint1", U(128), "0x8180"},
      {"mediumint2", U(1000), "0x8203e8"},
      {"mediumint3", U(100000), "0x830186a0"},
      {"mediumint4", BigDec("83729609699884896815286331701780722"), "0x8f102030405060708090a0b0c0d0e0f2"},
      {"mediumint5", BigDec("105315505618206987246253880190783558935785933862974822347068935681"),
       "0x9c0100020003000400050006000700080009000a000b000c000d000e01"},
      {"emptylist", L({}), "0xc0"},
      {"stringlist", L({S("dog"), S("god"), S("cat")}), "0xcc83646f6783676f6483636174"},
      {"multilist", L({S("zw"), L({U(4)}), U(1)}), "0xc6827a77c10401"},
      {"shortListMax1",
       L({S("asdf"), S("qwer"), S("zxcv"), S("asdf"), S("qwer"), S("zxcv"), S("asdf"), S("qwer"), S("zxcv"), S("asdf"),
          S("qwer")}),
       "0xf784617364668471776572847a78637684617364668471776572847a78637684617364668471776572847a"
       "78637684617364668471776572"},
      {"longList1", L(four), nullptr},
      {"longList2", L(thirty_two), nullptr},
      {"listsoflists", L({L({L({}), L({})}), L({})}), "0xc4c2c0c0c0"},
      {"listsoflists2", L({L({}), L({L({})}), L({L({}), L({L({})})})}), "0xc7c0c1c0c3c0c1c0"},
      {"dictTest1",
       L({L({S("key1"), S("val1")}), L({S("key2"), S("val2")}), L({S("key3"), S("val3")}), L({S("key4"), S("val4")})}),
       "0xecca846b6579318476616c31ca846b6579328476616c32ca846b6579338476616c33ca846b6579348476616c"
       "34"},
      {"bigint", B(H("0x010000000000000000000000000000000000000000000000000000000000000000")),
       "0xa1010000000000000000000000000000000000000000000000000000000000000000"},
  };
}

std::string OutOf(const Valid& v) {
  if (v.out != nullptr) return v.out;
  const std::string item = "cf84617364668471776572847a786376";
  if (std::string(v.name) == "longList1") return "0xf840" + Repeat(item, 4);
  return "0xf90200" + Repeat(item, 32);  // longList2
}

TEST(RlpVectors, EncodeDecodeRoundTrip) {
  for (const Valid& v : ValidVectors()) {
    const std::string out = OutOf(v);
    EXPECT_EQ(ToHex(Encode(v.in)), out) << v.name;
    const Bytes wire = H(out);
    absl::StatusOr<Item> decoded = DecodeWhole(wire);
    ASSERT_TRUE(decoded.ok()) << v.name << ": " << decoded.status();
    EXPECT_TRUE(*decoded == v.in) << v.name;
  }
}

TEST(RlpVectors, LongString1024) {
  // Same header as rlptest.json "longstring2": 1024 bytes -> b9 04 00.
  const std::string s(1024, 'L');
  const Bytes enc = EncodeBytes(Bytes(s.begin(), s.end()));
  ASSERT_EQ(enc.size(), 1027u);
  EXPECT_EQ(ToHex(ByteView(enc).subspan(0, 3)), "0xb90400");
  ByteView view(enc);
  EXPECT_EQ(DecodeBytes(view)->size(), 1024u);
  EXPECT_TRUE(view.empty());
}

// ethereum/tests RLPTests/invalidRLPTest.json, all 17 cases, with the reason we give.
TEST(RlpVectors, InvalidRejectedWithPreciseReason) {
  struct Invalid {
    const char* name;
    const char* in;
    const char* error;
  } cases[] = {
      {"int32Overflow", "bf0f000000000000021111", "rlp: input too short: string of 1080863910568919042 bytes, 2 left"},
      {"int32Overflow2", "ff0f000000000000021111", "rlp: input too short: list of 1080863910568919042 bytes, 2 left"},
      {"wrongSizeList", "f80180", "rlp: non-canonical size: long form for length 1 < 56"},
      {"wrongSizeList2", "f80100", "rlp: non-canonical size: long form for length 1 < 56"},
      {"incorrectLengthInArray", "b9002100dc2b275d0f74e8a53e6f4ec61b27f24278820be3f82ea2110e582081b0565df0",
       "rlp: non-canonical size: leading zero byte in length"},
      {"randomRLP",
       "f861f83eb9002100dc2b275d0f74e8a53e6f4ec61b27f24278820be3f82ea2110e582081b0565df027b90015"
       "002d5ef8325ae4d034df55d4b58d0dfba64d61ddd17be00000b9001a00dae30907045a2f66fa36f2bb8aa902"
       "9cbb0b8a7b3b5c435ab331",
       "rlp: non-canonical size: leading zero byte in length"},
      {"bytesShouldBeSingleByte00", "8100",
       "rlp: non-canonical size: single byte 0x00 below 0x80 must be its own encoding"},
      {"bytesShouldBeSingleByte01", "8101",
       "rlp: non-canonical size: single byte 0x01 below 0x80 must be its own encoding"},
      {"bytesShouldBeSingleByte7F", "817F",
       "rlp: non-canonical size: single byte 0x7f below 0x80 must be its own encoding"},
      {"leadingZerosInLongLengthArray1",
       "b90040000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223242526272829"
       "2a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
       "rlp: non-canonical size: leading zero byte in length"},
      {"leadingZerosInLongLengthArray2", "b800", "rlp: non-canonical size: leading zero byte in length"},
      {"leadingZerosInLongLengthList1",
       "fb00000040000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223242526"
       "2728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
       "rlp: non-canonical size: leading zero byte in length"},
      {"leadingZerosInLongLengthList2", "f800", "rlp: non-canonical size: leading zero byte in length"},
      {"nonOptimalLongLengthArray1", "b81000112233445566778899aabbccddeeff",
       "rlp: non-canonical size: long form for length 16 < 56"},
      {"nonOptimalLongLengthArray2", "b801ff", "rlp: non-canonical size: long form for length 1 < 56"},
      {"nonOptimalLongLengthList1", "f810000102030405060708090a0b0c0d0e0f",
       "rlp: non-canonical size: long form for length 16 < 56"},
      {"nonOptimalLongLengthList2", "f803112233", "rlp: non-canonical size: long form for length 3 < 56"},
  };
  for (const Invalid& c : cases) {
    const Bytes wire = H(c.in);
    absl::StatusOr<Item> r = DecodeWhole(wire);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(r.status().message(), c.error) << c.name;
  }
}

TEST(RlpDecode, TruncatedAndEmpty) {
  ByteView empty;
  EXPECT_EQ(DecodeHeader(empty).status().message(), "rlp: input too short: want an item, got 0 bytes");
  Bytes b = H("83646f");  // "dog" missing its last byte
  ByteView v(b);
  EXPECT_EQ(DecodeBytes(v).status().message(), "rlp: input too short: string of 3 bytes, 2 left");
  b = H("81");
  v = ByteView(b);
  EXPECT_EQ(DecodeBytes(v).status().message(), "rlp: input too short: string of 1 byte, 0 bytes left");
  b = H("b9");
  v = ByteView(b);
  EXPECT_EQ(DecodeBytes(v).status().message(), "rlp: input too short: header needs 2 length bytes, 0 left");
  b = H("bf01020304050607");  // 8 length bytes announced, 7 present
  v = ByteView(b);
  EXPECT_EQ(DecodeBytes(v).status().message(), "rlp: input too short: header needs 8 length bytes, 7 left");
  b = H("c3c1");  // list payload shorter than announced
  v = ByteView(b);
  EXPECT_EQ(DecodeList(v).status().message(), "rlp: input too short: list of 3 bytes, 1 left");
  // A list whose payload holds a truncated item: caught when the payload is decoded.
  b = H("c283");
  EXPECT_EQ(DecodeWhole(b).status().message(), "rlp: input too short: list of 2 bytes, 1 left");
  b = H("c18a");
  EXPECT_EQ(DecodeWhole(b).status().message(), "rlp: input too short: string of 10 bytes, 0 left");
}

TEST(RlpDecode, LengthOverflowNeverWraps) {
  // 2^64-1 announced: must fail on the comparison with what is left, not wrap.
  Bytes b = H("bfffffffffffffffff00");
  ByteView v(b);
  EXPECT_EQ(DecodeBytes(v).status().message(), "rlp: input too short: string of 18446744073709551615 bytes, 1 left");
  b = H("ffffffffffffffffff");
  v = ByteView(b);
  EXPECT_EQ(DecodeList(v).status().message(), "rlp: input too short: list of 18446744073709551615 bytes, 0 left");
}

TEST(RlpDecode, TypeMismatchAndTrailing) {
  Bytes b = H("c0");
  ByteView v(b);
  EXPECT_EQ(DecodeBytes(v).status().message(), "rlp: unexpected list, want string");
  b = H("80");
  v = ByteView(b);
  EXPECT_EQ(DecodeList(v).status().message(), "rlp: unexpected string, want list");
  b = H("8080");
  EXPECT_EQ(DecodeWhole(b).status().message(), "rlp: 1 trailing bytes after the item");
  EXPECT_EQ(ExpectEnd(ByteView(b), "tx").message(), "rlp: 2 trailing bytes after tx");
  EXPECT_TRUE(ExpectEnd(ByteView(), "tx").ok());
}

TEST(RlpDecode, Integers) {
  struct Case {
    const char* hex;
    uint64_t want;
  } ok[] = {{"80", 0}, {"01", 1}, {"7f", 127}, {"8180", 128}, {"88ffffffffffffffff", ~0ULL}};
  for (const Case& c : ok) {
    Bytes b = H(c.hex);
    ByteView v(b);
    absl::StatusOr<uint64_t> got = DecodeUint64(v);
    ASSERT_TRUE(got.ok()) << c.hex << got.status();
    EXPECT_EQ(*got, c.want);
    EXPECT_TRUE(v.empty());
    EXPECT_EQ(EncodeUint(c.want), b);
  }
  Bytes b = H("00");
  ByteView v(b);
  EXPECT_EQ(DecodeUint64(v).status().message(), "rlp: integer zero must be encoded as 0x80");
  b = H("820001");
  v = ByteView(b);
  EXPECT_EQ(DecodeUint64(v).status().message(), "rlp: integer has a leading zero byte");
  b = H("89010000000000000000");
  v = ByteView(b);
  EXPECT_EQ(DecodeUint64(v).status().message(), "rlp: integer of 9 bytes overflows uint64");
  b = H("a1010000000000000000000000000000000000000000000000000000000000000000");
  v = ByteView(b);
  EXPECT_EQ(DecodeU256(v).status().message(), "rlp: integer of 33 bytes overflows 256 bits");
  b = H("a0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
  v = ByteView(b);
  EXPECT_EQ(*DecodeU256(v), U256::Max());
  EXPECT_EQ(EncodeUint(U256::Max()), b);
  EXPECT_EQ(EncodeUint(U256(0)), H("80"));
  b = H("c0");
  v = ByteView(b);
  EXPECT_EQ(DecodeUint64(v).status().message(), "rlp: unexpected list, want string");
}

TEST(RlpDecode, FixedSizeFields) {
  const Address a = *Address::Parse("0x3535353535353535353535353535353535353535");
  Bytes enc = EncodeBytes(a.bytes());
  ByteView v(enc);
  EXPECT_EQ(*DecodeAddress(v), a);
  v = ByteView(enc);
  EXPECT_EQ(**DecodeOptionalAddress(v), a);
  Bytes empty = H("80");
  v = ByteView(empty);
  EXPECT_FALSE(DecodeOptionalAddress(v)->has_value());
  v = ByteView(empty);
  EXPECT_EQ(DecodeAddress(v).status().message(), "rlp: want a 20-byte address, got 0 bytes");
  Bytes short_addr = EncodeBytes(Bytes(19, 0x35));
  v = ByteView(short_addr);
  EXPECT_EQ(DecodeOptionalAddress(v).status().message(),
            "rlp: want an empty string or a 20-byte address, got 19 bytes");
  Bytes h = EncodeBytes(Bytes(31, 1));
  v = ByteView(h);
  EXPECT_EQ(DecodeHash32(v).status().message(), "rlp: want 32 bytes, got 31");
}

TEST(RlpDecode, DepthLimit) {
  // 2000 nested single-element lists: each level is "c1" ... wrapped with long headers as needed.
  Item deep;
  deep.list = true;
  for (int i = 0; i < kMaxDepth + 10; ++i) {
    Item outer;
    outer.list = true;
    outer.items.push_back(std::move(deep));
    deep = std::move(outer);
  }
  Bytes enc = Encode(deep);
  EXPECT_EQ(DecodeWhole(enc).status().message(), "rlp: nesting deeper than 1024");
}

TEST(RlpEncode, BuilderAndHeaders) {
  Bytes out;
  AppendHeader(out, false, 55);
  AppendHeader(out, false, 56);
  AppendHeader(out, true, 0x10000);
  EXPECT_EQ(ToHex(out), "0xb7b838fa010000");
  ListBuilder inner;
  inner.AddUint(4);
  const Bytes got = ListBuilder().AddBytes(Bytes{'z', 'w'}).AddList(inner).AddUint(1).Finish();
  EXPECT_EQ(ToHex(got), "0xc6827a77c10401");
  EXPECT_EQ(ToHex(EncodeList({EncodeBytes(Bytes{'z', 'w'}), inner.Finish(), EncodeUint(1)})), "0xc6827a77c10401");
  EXPECT_EQ(ToHex(ListBuilder().AddOptionalAddress(std::nullopt).AddHash(Hash32()).Finish()),
            "0xe280a00000000000000000000000000000000000000000000000000000000000000000");
}

TEST(RlpDecode, InFieldPrefixesMessage) {
  absl::Status s = InField("nonce", absl::InvalidArgumentError("rlp: x"));
  EXPECT_EQ(s.message(), "nonce: rlp: x");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(InField("nonce", absl::OkStatus()).ok());
}

// Every prefix of every valid vector must fail cleanly (never read past the end; ASan checks).
TEST(RlpDecode, EveryTruncationFailsCleanly) {
  for (const Valid& v : ValidVectors()) {
    const Bytes wire = H(OutOf(v));
    for (size_t n = 0; n < wire.size(); ++n) {
      Bytes prefix(wire.begin(), wire.begin() + n);  // own allocation so ASan sees overreads
      EXPECT_FALSE(DecodeWhole(prefix).ok()) << v.name << " cut at " << n;
    }
  }
}

}  // namespace
}  // namespace chain::rlp
