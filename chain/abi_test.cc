#include "chain/abi.h"

#include <gtest/gtest.h>

#include "chain/hex.h"

namespace chain::abi {
namespace {

Bytes H(absl::string_view hex) { return *FromHex(hex); }
Hash32 H32(absl::string_view hex) { return *Hash32::FromHex(hex); }
Address A(absl::string_view s) { return *Address::Parse(s); }
std::string Word(uint64_t v) { return ToHex(U256(v).ToBytes32(), false); }

TEST(AbiSelector, MatchesFactsAndSpec) {
  // ../shared/facts/dstack-contracts.md, computed there with three independent tools.
  struct Case {
    const char* sig;
    const char* sel;
  } cases[] = {
      {"deployAndRegisterApp(address,bool,bool,bytes32,bytes32)", "0x8618169d"},
      {"deployAndRegisterApp(address,bool,bool,bool,bytes32,bytes32)", "0x9cb9c31f"},
      {"addComposeHash(bytes32)", "0xdfc77223"},
      {"registerApp(address)", "0x17a1d80f"},
      {"allowedComposeHashes(bytes32)", "0x2f6622e5"},
      {"owner()", "0x8da5cb5b"},
      {"upgradeToAndCall(address,bytes)", "0x4f1ef286"},
      {"setGatewayAppId(string)", "0x3971db27"},
      {"setKmsInfo((bytes,bytes,bytes,bytes))", "0x7d025352"},
      {"isAppAllowed((address,bytes32,address,bytes32,bytes32,bytes32,bytes32,string,string[]))", "0x1e079198"},
      {"Error(string)", "0x08c379a0"},
      {"Panic(uint256)", "0x4e487b71"},
      // Solidity ABI specification examples.
      {"sam(bytes,bool,uint256[])", "0xa5643bf2"},
      {"g(uint256[][],string[])", "0x2289b18c"},
  };
  for (const Case& c : cases) EXPECT_EQ(SelectorHex(FunctionSelector(c.sig)), c.sel) << c.sig;
  EXPECT_EQ(EventTopic("AppDeployedViaFactory(address,address)").Hex(),
            "0xfd86d7f6962eba3b7a3bf9129c06c0b2f885e1c61ef2c9f0dbb856be0deefdee");
  EXPECT_EQ(EventTopic("Initialized(uint64)").Hex(),
            "0xc7f505b2f371ae2175ee4913f4499e1f2633a7b5936321eed1cdaeb6115181d2");
}

TEST(AbiType, ParseAndCanonical) {
  for (const char* s : {"address", "bool", "bytes32", "uint256", "bytes", "string", "()", "(address,bool)", "string[]",
                        "uint256[][]", "(bytes,(bool,string[]))[]"}) {
    auto t = Type::Parse(s);
    ASSERT_TRUE(t.ok()) << s << ": " << t.status();
    EXPECT_EQ(t->Canonical(), s);
  }
  EXPECT_FALSE(Type::Parse("address")->IsDynamic());
  EXPECT_FALSE(Type::Parse("(address,bytes32)")->IsDynamic());
  EXPECT_EQ(Type::Parse("(address,bytes32)")->HeadSize(), 64u);
  EXPECT_TRUE(Type::Parse("(address,bytes)")->IsDynamic());
  EXPECT_EQ(Type::Parse("(address,bytes)")->HeadSize(), 32u);
  EXPECT_EQ(Type::Parse("uint8").status().message(), "abi: unsupported type 'uint8'");
  EXPECT_EQ(Type::Parse("uint256[3]").status().message(),
            "abi: only dynamic arrays T[] are supported, at position 7 of 'uint256[3]'");
  EXPECT_EQ(Type::Parse("(address,bool").status().message(),
            "abi: expected ',' or ')' at position 13 of '(address,bool'");
  EXPECT_EQ(Type::Parse("(address,)").status().message(), "abi: missing type at position 9 of '(address,)'");
  EXPECT_EQ(Type::Parse("address)").status().message(), "abi: unexpected ')' after type in 'address)'");
  EXPECT_FALSE(Type::Parse("").ok());
}

TEST(AbiSignature, Parse) {
  auto s = ParseSignature("OwnableUnauthorizedAccount(address)");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->name, "OwnableUnauthorizedAccount");
  ASSERT_EQ(s->inputs.size(), 1u);
  EXPECT_EQ(s->Canonical(), "OwnableUnauthorizedAccount(address)");
  EXPECT_EQ(ParseSignature("FailedCall()")->inputs.size(), 0u);
  EXPECT_FALSE(ParseSignature("noparens").ok());
  EXPECT_FALSE(ParseSignature("(address)").ok());
  EXPECT_FALSE(ParseSignature("bad name(address)").ok());
  EXPECT_FALSE(ParseSignature("f(address)[]").ok());
}

// Solidity ABI spec example: sam("dave", true, [1,2,3]); bytes checked with `cast calldata`.
TEST(AbiEncode, SpecExampleSam) {
  auto got = EncodeCall("sam(bytes,bool,uint256[])",
                        {Value::FromBytes(Bytes{'d', 'a', 'v', 'e'}), Value::FromBool(true),
                         Value::FromArray({Value::FromUint(1), Value::FromUint(2), Value::FromUint(3)})});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(ToHex(*got), "0xa5643bf2" + Word(0x60) + Word(1) + Word(0xa0) + Word(4) +
                             "6461766500000000000000000000000000000000000000000000000000000000" + Word(3) + Word(1) +
                             Word(2) + Word(3));
}

// Solidity ABI spec example: g([[1,2],[3]], ["one","two","three"]).
TEST(AbiEncode, SpecExampleNestedDynamic) {
  std::vector<Value> args = {
      Value::FromArray(
          {Value::FromArray({Value::FromUint(1), Value::FromUint(2)}), Value::FromArray({Value::FromUint(3)})}),
      Value::FromArray({Value::FromString("one"), Value::FromString("two"), Value::FromString("three")})};
  auto got = EncodeCall("g(uint256[][],string[])", args);
  ASSERT_TRUE(got.ok());
  const std::string want = "0x2289b18c" + Word(0x40) + Word(0x140) + Word(2) + Word(0x40) + Word(0xa0) + Word(2) +
                           Word(1) + Word(2) + Word(1) + Word(3) + Word(3) + Word(0x60) + Word(0xa0) + Word(0xe0) +
                           Word(3) + "6f6e650000000000000000000000000000000000000000000000000000000000" + Word(3) +
                           "74776f0000000000000000000000000000000000000000000000000000000000" + Word(5) +
                           "7468726565000000000000000000000000000000000000000000000000000000";
  EXPECT_EQ(ToHex(*got), want);
  // And back.
  auto types = ParseSignature("g(uint256[][],string[])")->inputs;
  auto decoded = DecodeArgs(types, ByteView(*got).subspan(4));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(FormatValue(Value::FromTuple(*decoded)), "([[1,2],[3]],[\"one\",\"two\",\"three\"])");
}

// Nested static and dynamic tuples; expected bytes from `cast calldata
// "f((uint256,bool),address,(string,(bytes32,bytes)))" "(7,true)" 0x...02 "(hi,(0x11..,0xdeadbeef))"`.
TEST(AbiEncode, NestedTuplesMatchCast) {
  const char* sig = "f((uint256,bool),address,(string,(bytes32,bytes)))";
  std::vector<Value> args = {
      Value::FromTuple({Value::FromUint(7), Value::FromBool(true)}),
      Value::FromAddress(A("0x0000000000000000000000000000000000000002")),
      Value::FromTuple({Value::FromString("hi"), Value::FromTuple({Value::FromBytes32(H32(std::string(64, '1'))),
                                                                   Value::FromBytes(H("0xdeadbeef"))})})};
  auto got = EncodeCall(sig, args);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(ToHex(*got), "0x96c8e18f" + Word(7) + Word(1) + Word(2) + Word(0x80) + Word(0x40) + Word(0x80) + Word(2) +
                             "6869000000000000000000000000000000000000000000000000000000000000" + std::string(64, '1') +
                             Word(0x40) + Word(4) + "deadbeef00000000000000000000000000000000000000000000000000000000");
  auto decoded = DecodeArgs(ParseSignature(sig)->inputs, ByteView(*got).subspan(4));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(
      FormatValue(Value::FromTuple(*decoded)),
      "((7,true),0x0000000000000000000000000000000000000002,(\"hi\",(0x" + std::string(64, '1') + ",0xdeadbeef)))");
}

TEST(AbiEncode, TypeChecks) {
  EXPECT_EQ(EncodeCall("f(address)", {Value::FromBool(true)}).status().message(),
            "argument 0: abi: value true is not a address");
  EXPECT_EQ(EncodeCall("f(address)", {}).status().message(), "abi: f(address) takes 1 arguments, got 0");
  EXPECT_FALSE(EncodeCall("f((bool,bool))", {Value::FromTuple({Value::FromBool(true)})}).ok());
  EXPECT_FALSE(EncodeCall("f(bool[])", {Value::FromArray({Value::FromUint(1)})}).ok());
  EXPECT_TRUE(EncodeCall("f(bool[])", {Value::FromArray({})}).ok());
}

TEST(AbiDecode, RoundTripAllTypes) {
  const char* sig = "f(address,bool,bytes32,uint256,bytes,string,(address,string)[])";
  std::vector<Value> args = {
      Value::FromAddress(A("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")),
      Value::FromBool(false),
      Value::FromBytes32(H32(std::string(64, 'a'))),
      Value::FromUint(U256::Max()),
      Value::FromBytes(Bytes(33, 0x5a)),
      Value::FromString(""),
      Value::FromArray({Value::FromTuple({Value::FromAddress(Address()), Value::FromString("x")})}),
  };
  auto enc = EncodeCall(sig, args);
  ASSERT_TRUE(enc.ok());
  auto dec = DecodeArgs(ParseSignature(sig)->inputs, ByteView(*enc).subspan(4));
  ASSERT_TRUE(dec.ok()) << dec.status();
  EXPECT_EQ(FormatValue(Value::FromTuple(*dec)), FormatValue(Value::FromTuple(args)));
  // Every truncation fails cleanly.
  for (size_t n = 4; n < enc->size(); ++n) {
    Bytes cut(enc->begin() + 4, enc->begin() + n);
    // Trailing zero padding of the last string may be cut without harm; anything else fails.
    auto r = DecodeArgs(ParseSignature(sig)->inputs, cut);
    if (r.ok()) EXPECT_GE(n, enc->size() - 31) << n;
  }
}

TEST(AbiDecode, BoundsAndCanonicalForm) {
  const std::vector<Type> str = {Type::String()};
  // Offset past the end.
  EXPECT_EQ(DecodeArgs(str, H(Word(0x40))).status().message(),
            "abi: offset 64 of item 0 points past the 32 bytes of its tuple");
  // Offset that does not fit 64 bits.
  EXPECT_EQ(DecodeArgs(str, H("ff" + std::string(62, '0'))).status().message(), "abi: offset at byte 0 is too large");
  // Offset at the very end: no room for the length word.
  EXPECT_EQ(DecodeArgs(str, H(Word(0x20))).status().message(),
            "abi: data too short: need a word at byte 0, have 0 bytes");
  // Length larger than what follows.
  EXPECT_EQ(DecodeArgs(str, H(Word(0x20) + Word(33) + std::string(64, '0'))).status().message(),
            "abi: length 33 exceeds the 32 bytes that follow it");
  // Length 2^256-1.
  EXPECT_EQ(DecodeArgs(str, H(Word(0x20) + std::string(64, 'f'))).status().message(),
            "abi: length at byte 0 is too large");
  // Length 2^64-1: fits the word check, must not overflow the comparison.
  EXPECT_EQ(DecodeArgs(str, H(Word(0x20) + Word(~0ULL))).status().message(),
            "abi: length 18446744073709551615 exceeds the 0 bytes that follow it");
  // Array count too large for the data (checked before allocating).
  EXPECT_EQ(DecodeArgs({Type::Array(Type::Uint256())}, H(Word(0x20) + Word(1000000) + Word(1))).status().message(),
            "abi: array length 1000000 exceeds the 32 bytes that follow it");
  EXPECT_EQ(DecodeArgs({Type::Array(Type::Uint256())}, H(Word(0x20) + Word(~0ULL))).status().message(),
            "abi: array length 18446744073709551615 exceeds the 0 bytes that follow it");
  // Empty tuples as array elements occupy no head: the count is still bounded.
  EXPECT_FALSE(DecodeArgs({*Type::Parse("()[]")}, H(Word(0x20) + Word(~0ULL))).ok());
  // Static data too short.
  EXPECT_EQ(DecodeArgs({Type::Uint256(), Type::Uint256()}, H(Word(1))).status().message(),
            "abi: data too short: need a word at byte 32, have 32 bytes");
  EXPECT_FALSE(DecodeArgs({*Type::Parse("(uint256,uint256)")}, H(Word(1))).ok());
  // Dirty address and bool words.
  EXPECT_EQ(DecodeArgs({Type::Address()}, H("01" + std::string(62, '0'))).status().message(),
            "abi: address at byte 0 has non-zero upper bytes");
  EXPECT_EQ(DecodeArgs({Type::Bool()}, H(Word(2))).status().message(), "abi: bool at byte 0 is not 0 or 1");
  EXPECT_EQ(DecodeArgs({Type::Bool()}, H("01" + std::string(62, '0'))).status().message(),
            "abi: bool at byte 0 is not 0 or 1");
  // Trailing bytes are ignored, as Solidity does.
  EXPECT_TRUE(DecodeArgs({Type::Uint256()}, H(Word(1) + "ff")).ok());
}

TEST(AbiDecode, OverlappingOffsetsCannotAmplify) {
  // string[] of 64 elements that all point at the same 1 KiB string: ~3 KiB of input that a
  // naive decoder would expand to 64 KiB.
  std::string hex = Word(0x20) + Word(64);
  for (int i = 0; i < 64; ++i) hex += Word(64 * 32);
  hex += Word(1024) + std::string(2048, 'a');
  auto r = DecodeArgs({Type::Array(Type::String())}, H(hex));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "abi: decoded data larger than the input (overlapping offsets)");
}

TEST(Revert, ErrorString) {
  // `cast calldata "Error(string)" "Invalid owner address"`.
  const Bytes data =
      H("0x08c379a0" + Word(0x20) + Word(21) + "496e76616c6964206f776e657220616464726573730000000000000000000000");
  Revert r = DecodeRevert(data);
  EXPECT_EQ(r.kind, Revert::Kind::kErrorString);
  EXPECT_EQ(r.reason, "Invalid owner address");
  EXPECT_EQ(r.text, "Error(\"Invalid owner address\")");
  EXPECT_EQ(SelectorHex(r.selector), "0x08c379a0");
}

TEST(Revert, ErrorStringIsEscaped) {
  Bytes data = *EncodeCall("Error(string)", {Value::FromString("a\"b\n\xff")});
  EXPECT_EQ(DecodeRevert(data).text, "Error(\"a\\\"b\\x0a\\xff\")");
}

TEST(Revert, Panic) {
  Revert r = DecodeRevert(H("0x4e487b71" + Word(0x11)));
  EXPECT_EQ(r.kind, Revert::Kind::kPanic);
  EXPECT_EQ(r.reason, "arithmetic underflow or overflow");
  EXPECT_EQ(r.text, "Panic(0x11: arithmetic underflow or overflow)");
  EXPECT_EQ(DecodeRevert(H("0x4e487b71" + Word(0x32))).text, "Panic(0x32: array index out of bounds)");
  EXPECT_EQ(DecodeRevert(H("0x4e487b71" + Word(0x99))).text, "Panic(0x99: unknown panic code)");
  EXPECT_EQ(PanicMeaning(U256(0x01)), "assertion failed");
  EXPECT_EQ(PanicMeaning(U256(0x12)), "division or modulo by zero");
}

TEST(Revert, KnownCustomErrors) {
  // anvil's revert for a non-owner addComposeHash (facts §3.3): 0x118cdaa7 + caller.
  Revert r = DecodeRevert(H("0x118cdaa7000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266"));
  EXPECT_EQ(r.kind, Revert::Kind::kCustom);
  EXPECT_EQ(r.text, "OwnableUnauthorizedAccount(0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266)");
  EXPECT_EQ(r.reason, "OwnableUnauthorizedAccount(address)");
  EXPECT_EQ(DecodeRevert(H("0xd6bda275")).text, "FailedCall()");
  EXPECT_EQ(DecodeRevert(H("0xf92ee8a9")).text, "InvalidInitialization()");
  EXPECT_EQ(DecodeRevert(H("0xaa1d49a4" + std::string(64, '1'))).text,
            "UUPSUnsupportedProxiableUUID(0x" + std::string(64, '1') + ")");
}

TEST(Revert, RegistrySelectorsMatchFacts) {
  // ../shared/facts/dstack-contracts.md §3.3.
  struct Case {
    const char* selector;
    const char* signature;
  } cases[] = {
      {"0x118cdaa7", "OwnableUnauthorizedAccount(address)"},
      {"0x1e4fbdf7", "OwnableInvalidOwner(address)"},
      {"0xf92ee8a9", "InvalidInitialization()"},
      {"0xd7e6bcf8", "NotInitializing()"},
      {"0xe07c8dba", "UUPSUnauthorizedCallContext()"},
      {"0xaa1d49a4", "UUPSUnsupportedProxiableUUID(bytes32)"},
      {"0x4c9c8ce3", "ERC1967InvalidImplementation(address)"},
      {"0xb398979f", "ERC1967NonPayable()"},
      {"0xd6bda275", "FailedCall()"},
      {"0x9996b315", "AddressEmptyCode(address)"},
  };
  const ErrorRegistry& known = ErrorRegistry::Known();
  for (const Case& c : cases) {
    const Bytes sel = H(c.selector);
    const ErrorRegistry::Entry* e = known.Find({sel[0], sel[1], sel[2], sel[3]});
    ASSERT_NE(e, nullptr) << c.signature;
    EXPECT_EQ(e->signature.Canonical(), c.signature);
  }
  EXPECT_EQ(known.size(), 13u);  // every built-in signature parsed and registered
}

TEST(Revert, UnknownEmptyAndMalformed) {
  Revert r = DecodeRevert(H("0x12345678" + Word(1)));
  EXPECT_EQ(r.kind, Revert::Kind::kUnknown);
  EXPECT_EQ(r.text, "custom error 0x12345678 (32 bytes)");
  EXPECT_EQ(DecodeRevert(H("0x12345678")).text, "custom error 0x12345678 (0 bytes)");
  EXPECT_EQ(DecodeRevert({}).kind, Revert::Kind::kEmpty);
  EXPECT_EQ(DecodeRevert({}).text, "empty revert data");
  r = DecodeRevert(H("0x08c379"));
  EXPECT_EQ(r.kind, Revert::Kind::kMalformed);
  EXPECT_EQ(r.text, "malformed revert data 0x08c379 (3 bytes)");
  // Error(string) whose offset points out of range.
  r = DecodeRevert(H("0x08c379a0" + Word(0x1000)));
  EXPECT_EQ(r.kind, Revert::Kind::kMalformed);
  EXPECT_EQ(r.text,
            "Error(string) with malformed arguments (32 bytes): abi: offset 4096 of item 0 points "
            "past the 32 bytes of its tuple");
  // Custom error with a truncated argument.
  r = DecodeRevert(H("0x118cdaa7" + std::string(40, '0')));
  EXPECT_EQ(r.kind, Revert::Kind::kMalformed);
  EXPECT_EQ(r.text,
            "OwnableUnauthorizedAccount(address) with malformed arguments (20 bytes): abi: data "
            "too short: need a word at byte 0, have 20 bytes");
  EXPECT_EQ(DecodeRevert(H("0x4e487b71")).kind, Revert::Kind::kMalformed);
}

TEST(Revert, CustomRegistry) {
  ErrorRegistry reg;
  ASSERT_TRUE(reg.Add("AppNotAllowed(address,string)").ok());
  EXPECT_TRUE(reg.Add("AppNotAllowed(address,string)").ok());  // same again is fine
  EXPECT_FALSE(reg.Add("Bad(uint8)").ok());
  Bytes data = *EncodeCall("AppNotAllowed(address,string)", {Value::FromAddress(Address()), Value::FromString("no")});
  EXPECT_EQ(DecodeRevert(data, reg).text, "AppNotAllowed(0x0000000000000000000000000000000000000000,\"no\")");
  // Not in the default registry.
  EXPECT_EQ(DecodeRevert(data).kind, Revert::Kind::kUnknown);
}

}  // namespace
}  // namespace chain::abi
