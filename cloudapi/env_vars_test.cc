#include "cloudapi/env_vars.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cloudapi {
namespace {

struct Case {
  std::string text;
  std::vector<EnvVar> want;
};

// Inputs and the results node 20 printed for @phala/cloud 0.2.9's parseEnvVars (the same table
// runs against the real SDK in //test/sdk_oracle).
const std::vector<Case>& SdkTable() {
  static const auto* kTable = new std::vector<Case>{
      {"# comment\n\nA=1\nexport B=two\nC = spaced \nJ: colon\nI\n",
       {{"A", "1"}, {"B", "two"}, {"C", "spaced"}, {"J", "colon"}}},
      {"D=\"dq \\n newline\"\nE='sq \\n raw'\nL=`bt`\n", {{"D", "dq \n newline"}, {"E", "sq \\n raw"}, {"L", "bt"}}},
      {"F=val # trailing comment\nN=x#y\nM=\"has # hash\"\n", {{"F", "val"}, {"N", "x"}, {"M", "has # hash"}}},
      {"G=a=b=c\nH=\nR=''\nS=\"\"\n", {{"G", "a=b=c"}, {"H", ""}, {"R", ""}, {"S", ""}}},
      {"K=\"multi\nline\"\nZ=1\n", {{"K", "multi\nline"}, {"Z", "1"}}},
      {"Q=\"unterminated\nT=\"a\\\"b\"\n", {{"Q", "\"unterminated"}, {"T", "a\\\"b"}}},
      {"A=1\r\nB=2\rC=3\r\n", {{"A", "1"}, {"B", "2"}, {"C", "3"}}},
      {"A=1\nB=2\nA=3\n", {{"A", "3"}, {"B", "2"}}},
      {"dot.key-1=v\n  INDENT=ok\n", {{"dot.key-1", "v"}, {"INDENT", "ok"}}},
      {"A=\"abc\nB=\"def\"\n", {{"A", "\"abc"}, {"B", "def"}}},
      {"A=\n'x'\nB=2\n", {{"A", "x"}, {"B", "2"}}},
      {"A=\nB='x'\n", {{"A", ""}, {"B", "x"}}},
      {"I\n=5\n", {{"I", "5"}}},
      {"J:\nvalue\n", {{"J", "value"}}},
      {"export =1\nexport  X=2\nexportY=3\n", {{"export", "1"}, {"X", "2"}, {"exportY", "3"}}},
      {"A='x' y\nB=\"x\" y\n", {{"A", "'x' y"}, {"B", "\"x\" y"}}},
      {"A='it\\'s'\nB='a\\\\'b'\n", {{"A", "it\\'s"}, {"B", "a\\\\'b"}}},
      {"1=a\nB=b\n0=c\n10=d\n01=e\n4294967295=f\n",
       {{"0", "c"}, {"1", "a"}, {"10", "d"}, {"B", "b"}, {"01", "e"}, {"4294967295", "f"}}},
      {"__proto__=x\nconstructor=y\ntoString=z\n", {{"constructor", "y"}, {"toString", "z"}}},
      {"A=  \"  padded  \"  \nB=   x   \n", {{"A", "  padded  "}, {"B", "x"}}},
      {"A=\"a\\nb\" x\n", {{"A", "\"a\nb\" x"}}},
      {"A=\xc2\xa0v\xc2\xa0\nB=\xe2\x80\xa8x\n", {{"A", "v"}, {"B", "x"}}},
      {"A=caf\xc3\xa9 \xe2\x9c\x93\nB=\xf0\x9f\x98\x80\n",
       {{"A", "caf\xc3\xa9 \xe2\x9c\x93"}, {"B", "\xf0\x9f\x98\x80"}}},
      {"A=1 # c\n# only\n   \n\t\nB=2", {{"A", "1"}, {"B", "2"}}},
      {"MY KEY=1\nGOOD=2\n", {{"GOOD", "2"}}},
      {"A='x'\xe2\x80\xa8'y'\n", {{"A", "x"}}},
      {"A=\"x\\r\\ny\"\n", {{"A", "x\r\ny"}}},
      {"A=`multi\nline`\nB='multi\nline2'\n", {{"A", "multi\nline"}, {"B", "multi\nline2"}}},
      {"A=\"x\" # c\nB='y'#c\n", {{"A", "x"}, {"B", "y"}}},
      {"A\t=\t1\nB :x\nC:  y\n", {{"A", "1"}, {"C", "y"}}},
      {"", {}},
      {"\n\n\n", {}},
      {"#A=1\n", {}},
  };
  return *kTable;
}

std::string Show(const std::vector<EnvVar>& vars) {
  std::string out;
  for (const EnvVar& v : vars) out += "[" + v.key + "=" + v.value + "]";
  return out;
}

TEST(ParseEnvVarsAsSdk, MatchesSdkTable) {
  for (const Case& c : SdkTable()) {
    absl::StatusOr<std::vector<EnvVar>> got = ParseEnvVarsAsSdk(c.text);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(Show(*got), Show(c.want)) << "input: " << c.text;
  }
}

// The strict parser returns the SDK's result or names the line the SDK silently drops.
TEST(ParseEnvVars, SdkResultOrLineError) {
  const std::vector<std::pair<std::string, std::string>> kErrors = {
      {"# comment\n\nA=1\nexport B=two\nC = spaced \nJ: colon\nI\n",
       "env line 7: not a KEY=VALUE assignment (keys use letters, digits, '_', '.', '-')"},
      {"MY KEY=1\nGOOD=2\n", "env line 1: not a KEY=VALUE assignment (keys use letters, digits, '_', '.', '-')"},
      {"__proto__=x\nconstructor=y\ntoString=z\n", "env line 1: key __proto__ cannot be used"},
      {"A\t=\t1\nB :x\nC:  y\n", "env line 2: not a KEY=VALUE assignment (keys use letters, digits, '_', '.', '-')"},
  };
  for (const Case& c : SdkTable()) {
    absl::StatusOr<std::vector<EnvVar>> got = ParseEnvVars(c.text);
    std::string want_error;
    for (const auto& [text, error] : kErrors) {
      if (text == c.text) want_error = error;
    }
    if (want_error.empty()) {
      ASSERT_TRUE(got.ok()) << got.status() << " input: " << c.text;
      EXPECT_EQ(Show(*got), Show(c.want)) << "input: " << c.text;
    } else {
      ASSERT_FALSE(got.ok()) << "input: " << c.text;
      EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(got.status().message(), want_error);
    }
  }
}

TEST(ParseEnvVars, ErrorsNeverContainValues) {
  absl::StatusOr<std::vector<EnvVar>> got = ParseEnvVars("OK=1\nBAD KEY=hunter2secret\n");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(std::string(got.status().message()).find("hunter2"), std::string::npos);
  EXPECT_EQ(got.status().message(), "env line 2: not a KEY=VALUE assignment (keys use letters, digits, '_', '.', '-')");
}

TEST(ParseEnvVars, InvalidUtf8) {
  absl::StatusOr<std::vector<EnvVar>> got = ParseEnvVars("A=\xff\n");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().message(), "env text: invalid UTF-8 at byte 2");
}

TEST(ParseEnvVars, LargeInputsStayFast) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "KEY_" + std::to_string(i) + "=\"v\\n" + std::to_string(i) + "\"\n";
  text += std::string(200000, '\n');
  text += "LAST=\"" + std::string(200000, 'x') + "\"\n";
  absl::StatusOr<std::vector<EnvVar>> got = ParseEnvVars(text);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 20001u);
  EXPECT_EQ(got->back().value.size(), 200000u);
  EXPECT_EQ((*got)[7].value, "v\n7");
}

}  // namespace
}  // namespace cloudapi
