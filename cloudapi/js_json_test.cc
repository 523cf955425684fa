#include "cloudapi/js_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "cloudapi/js_text.h"

namespace cloudapi {
namespace {

namespace json = boost::json;

std::string Stringify(absl::string_view text, int indent = 0) {
  absl::StatusOr<json::value> v = ParseJsonLikeJs(text);
  EXPECT_TRUE(v.ok()) << v.status();
  if (!v.ok()) return "";
  absl::StatusOr<std::string> s = StringifyLikeJs(*v, indent);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

// Expected strings printed by node 20: String(x).
TEST(JsNumberToString, MatchesNode) {
  const struct {
    double value;
    const char* js;
  } kCases[] = {
      {0, "0"},
      {-0.0, "0"},
      {1, "1"},
      {-1, "-1"},
      {2, "2"},
      {1.5, "1.5"},
      {0.1, "0.1"},
      {0.1 + 0.2, "0.30000000000000004"},
      {100, "100"},
      {1e20, "100000000000000000000"},
      {1e21, "1e+21"},
      {123456789012345680000.0, "123456789012345680000"},
      {1.5e21, "1.5e+21"},
      {1e-6, "0.000001"},
      {1e-7, "1e-7"},
      {1.234e-7, "1.234e-7"},
      {0.000001234, "0.000001234"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {9007199254740992.0, "9007199254740992"},
      {9007199254740994.0, "9007199254740994"},
      {-1e-7, "-1e-7"},
      {123.456, "123.456"},
      {1.0 / 3, "0.3333333333333333"},
      {4294967295.0, "4294967295"},
      {1e100, "1e+100"},
      {12345678901234567890.0, "12345678901234567000"},
  };
  for (const auto& c : kCases) EXPECT_EQ(JsNumberToString(c.value), c.js) << c.js;
  EXPECT_EQ(JsNumberToString(std::nan("")), "NaN");
  EXPECT_EQ(JsNumberToString(-std::numeric_limits<double>::infinity()), "-Infinity");
}

TEST(ParseJsonLikeJs, NumbersAreJsNumbers) {
  EXPECT_EQ(Stringify("[9007199254740993, 1e400, -1e400, 1e-400, -0, 0.1e1, 1E2, "
                      "12345678901234567890123, 2.4703282292062328e-324]"),
            "[9007199254740992,null,null,0,0,1,100,1.2345678901234568e+22,5e-324]");
}

TEST(ParseJsonLikeJs, DuplicateKeysKeepFirstPositionLastValue) {
  EXPECT_EQ(Stringify(R"({"a":1,"b":2,"a":3})"), R"({"a":3,"b":2})");
}

TEST(ParseJsonLikeJs, RejectsWhatJsCannotRoundTrip) {
  EXPECT_FALSE(ParseJsonLikeJs("{").ok());
  EXPECT_FALSE(ParseJsonLikeJs("[1,]").ok());
  EXPECT_FALSE(ParseJsonLikeJs("\"\xff\"").ok());
  EXPECT_FALSE(ParseJsonLikeJs(R"("\ud800")").ok());
  EXPECT_FALSE(ParseJsonLikeJs(R"("\udc00x")").ok());
  EXPECT_FALSE(ParseJsonLikeJs("1 2").ok());
  EXPECT_FALSE(ParseJsonLikeJs("{} x").ok());
  EXPECT_TRUE(ParseJsonLikeJs(" \n{} \t\r\n").ok());  // JSON.parse allows surrounding whitespace
  std::string deep(300, '[');
  deep += std::string(300, ']');
  EXPECT_FALSE(ParseJsonLikeJs(deep).ok());
}

TEST(ParseJsonLikeJs, SurrogatePairEscapesBecomeUtf8) {
  EXPECT_EQ(Stringify(R"(["\ud83d\ude00", "\u00e9"])"), "[\"\xF0\x9F\x98\x80\",\"\xC3\xA9\"]");
}

TEST(StringifyLikeJs, PropertyOrderIsJsOrder) {
  EXPECT_EQ(Stringify(R"({"b":1,"10":2,"2":3,"a":4,"4294967295":5,"01":6})"),
            R"({"2":3,"10":2,"b":1,"a":4,"4294967295":5,"01":6})");
}

TEST(StringifyLikeJs, Escapes) {
  // Control characters, quote and backslash escaped; DEL, '/', U+2028 and non-ASCII raw.
  EXPECT_EQ(Stringify(R"("\u0000\u0001\u001f\u007f\b\f\n\r\t\"\\\/\u2028\u00e9")"),
            "\"\\u0000\\u0001\\u001f\x7f\\b\\f\\n\\r\\t\\\"\\\\/\xE2\x80\xA8\xC3\xA9\"");
}

TEST(StringifyLikeJs, Indent) {
  EXPECT_EQ(Stringify(R"({"a":[],"b":{},"c":[1,{"d":null}]})", 4),
            "{\n    \"a\": [],\n    \"b\": {},\n    \"c\": [\n        1,\n        {\n"
            "            \"d\": null\n        }\n    ]\n}");
  EXPECT_EQ(Stringify("[]", 4), "[]");
  EXPECT_EQ(Stringify("\"x\"", 4), "\"x\"");
}

TEST(StringifyLikeJs, IntegersAndNonFiniteDoubles) {
  json::array a;
  a.emplace_back(int64_t{-5});
  a.emplace_back(uint64_t{18446744073709551615ull});
  a.emplace_back(std::numeric_limits<double>::infinity());
  a.emplace_back(std::nan(""));
  absl::StatusOr<std::string> s = StringifyLikeJs(json::value(std::move(a)));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "[-5,18446744073709552000,null,null]");
}

TEST(StringifyLikeJs, RejectsInvalidUtf8) {
  json::value v = json::string("\xc3");
  EXPECT_FALSE(StringifyLikeJs(v).ok());
}

TEST(JsText, SortOrderIsUtf16) {
  // U+FF21 (fullwidth A) sorts after U+1F600 in UTF-16 (0xFF21 > 0xD83D), before it by code point.
  EXPECT_TRUE(JsStringLess("\xF0\x9F\x98\x80", "\xEF\xBC\xA1"));
  EXPECT_FALSE(JsStringLess("\xEF\xBC\xA1", "\xF0\x9F\x98\x80"));
  EXPECT_TRUE(JsStringLess("B", "a"));
  EXPECT_TRUE(JsStringLess("a", "ab"));
  EXPECT_TRUE(JsStringLess("Z", "_"));
}

TEST(JsText, ArrayIndex) {
  EXPECT_EQ(JsArrayIndex("0"), 0u);
  EXPECT_EQ(JsArrayIndex("4294967294"), 4294967294u);
  EXPECT_FALSE(JsArrayIndex("4294967295").has_value());
  EXPECT_FALSE(JsArrayIndex("01").has_value());
  EXPECT_FALSE(JsArrayIndex("-1").has_value());
  EXPECT_FALSE(JsArrayIndex("").has_value());
  EXPECT_FALSE(JsArrayIndex("1a").has_value());
}

TEST(JsText, WhitespaceAndUtf8) {
  for (char32_t c : {U'\t', U'\n', U'\v', U'\f', U'\r', U' ', U'\u00a0', U'\u1680', U'\u2000', U'\u200a', U'\u2028',
                     U'\u2029', U'\u202f', U'\u205f', U'\u3000', U'\ufeff'}) {
    EXPECT_TRUE(IsJsWhitespace(c)) << static_cast<uint32_t>(c);
  }
  for (char32_t c : {U'a', U'\u180e', U'\u200b', U'\u0085'}) EXPECT_FALSE(IsJsWhitespace(c));
  EXPECT_TRUE(IsValidUtf8("h\xC3\xA9\xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
  absl::StatusOr<std::u32string> d = DecodeUtf8("a\xff", "x");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "x: invalid UTF-8 at byte 1");
}

TEST(JsonAsInt, IntegersAndIntegralDoublesOnly) {
  EXPECT_EQ(JsonAsInt(boost::json::value(int64_t{-3})), -3);
  EXPECT_EQ(JsonAsInt(boost::json::value(uint64_t{7})), 7);
  EXPECT_EQ(JsonAsInt(boost::json::value(2.0)), 2);
  EXPECT_FALSE(JsonAsInt(boost::json::value(2.5)).has_value());
  EXPECT_FALSE(JsonAsInt(boost::json::value(1e300)).has_value());
  EXPECT_FALSE(JsonAsInt(boost::json::value(UINT64_MAX)).has_value());
  EXPECT_FALSE(JsonAsInt(boost::json::value("1")).has_value());
}

}  // namespace
}  // namespace cloudapi
