// Oracle tests: the real @phala/cloud SDK (pinned in tools/node/package.json) against cloudapi/.
// All cases go to one node process (sdk_oracle.js) through a JSON file, so the test takes
// seconds:
//   (a) the SDK encrypts to keys we generate, we decrypt;
//   (b) we encrypt, node decrypts with the SDK's primitives (noble x25519 + WebCrypto AES-GCM);
//   (c) compose hashes agree in all three forms, and so do the hashed strings;
//   (d) parsed env vars agree.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chain/hex.h"
#include "cloudapi/compose_hash.h"
#include "cloudapi/env_encryption.h"
#include "cloudapi/env_vars.h"
#include "cloudapi/js_json.h"
#include "crypto/x25519.h"
#include "test/support/node_tools.h"

namespace {

namespace json = boost::json;
using cloudapi::EnvVar;

// (d) dotenv texts: the §8 facts, every regex quirk found while reading the SDK, and ordinary
// files.
const std::vector<std::string> kEnvTexts = {
    "# comment\n\nA=1\nexport B=two\nC = spaced \nJ: colon\nI\n",
    "D=\"dq \\n newline\"\nE='sq \\n raw'\nL=`bt`\n",
    "F=val # trailing comment\nN=x#y\nM=\"has # hash\"\n",
    "G=a=b=c\nH=\nR=''\nS=\"\"\n",
    "K=\"multi\nline\"\nZ=1\n",
    "Q=\"unterminated\nT=\"a\\\"b\"\n",
    "A=1\r\nB=2\rC=3\r\n",
    "A=1\nB=2\nA=3\n",
    "dot.key-1=v\n  INDENT=ok\n",
    "A=\"abc\nB=\"def\"\n",
    "A=\n'x'\nB=2\n",
    "A=\nB='x'\n",
    "I\n=5\n",
    "J:\nvalue\n",
    "export =1\nexport  X=2\nexportY=3\nexport\tTAB=4\n",
    "A='x' y\nB=\"x\" y\n",
    "A='it\\'s'\nB='a\\\\'b'\nC=\"q\\\"\" # c\nD='\\'' x\n",
    "1=a\nB=b\n0=c\n10=d\n01=e\n4294967295=f\n4294967294=g\n",
    "__proto__=x\nconstructor=y\ntoString=z\nhasOwnProperty=w\n",
    "A=  \"  padded  \"  \nB=   x   \n",
    "A=\"a\\nb\" x\nB=\"\\\\n\"\nC=\"\\r\\n\\t\"\n",
    "A=\xC2\xA0v\xC2\xA0\nB=\xE2\x80\xA8x\n",
    "A=caf\xC3\xA9 \xE2\x9C\x93\nB=\xF0\x9F\x98\x80\n\xC3\xA9=bad key\n",
    "A=1 # c\n# only\n   \n\t\nB=2",
    "MY KEY=1\nGOOD=2\n",
    "A='x'\xE2\x80\xA8'y'\n",
    "A=`multi\nline`\nB='multi\nline2'\nC=`x\\`y`\n",
    "A=\"x\" # c\nB='y'#c\nC=\"#\"\nD='#'#\n",
    "A\t=\t1\nB :x\nC:  y\nD:\tz\n",
    "",
    "\n\n\n",
    "#A=1\n",
    "\xEF\xBB\xBF"
    "BOM=1\n",
    "PRIVATE_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\n"
    "DATABASE_URL=postgres://user:p%40ss@db:5432/app?sslmode=require\n"
    "JSON={\"a\": [1, 2], \"b\": \"c\"}\n"
    "CERT=\"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\"\n",
    "A=\"unterminated\nB=`also\nC='and this\n",
    "A=x\\\nB=y\n",
    "lower=1\nMiXeD_9=2\n_=3\n.=4\n-=5\n",
    "A=\"\"\"\nB=''''\n",
    "A=1=\nB==2\nC= =\n",
    "A: 1\nB:2\nC :3\n",
    "  export   SPACED  =  v  \n",
    "A=\"x\"\"y\"\nB='a' 'b'\n",
    "A=\"\\\"\"\nB=\"\\\\\"\"\n",
    // An unquoted value starting with a quote: the strip regex has the m flag, so a quote before
    // U+2028/U+2029 closes a segment.
    "A='a' c'\xE2\x80\xA8"
    "b\n",
    "A=\"a\" c\"\xE2\x80\xA9\"x\" y\"\n",
    // An unterminated quote swallows the next line when that line ends with the same quote.
    "A=\"abc\nB=x\"\nC=1\n",
};

// (c) app-compose documents (JSON text, read with JSON.parse on both sides).
const std::vector<std::string> kComposeDocs = {
    // facts §9 full example
    R"({"manifest_version":2,"name":"my-app","runner":"docker-compose","docker_compose_file":"services:\n  app:\n    image: nginx:latest\n","kms_enabled":true,"gateway_enabled":true,"public_logs":true,"public_sysinfo":true,"public_tcbinfo":true,"local_key_provider_enabled":false,"key_provider_id":"","allowed_envs":["FOO","BAR"],"no_instance_id":false,"secure_time":false,"pre_launch_script":"","features":["kms","tproxy-net"]})",
    R"({"docker_compose_file":"services: {}\n","name":"a","manifest_version":2})",
    "{\"name\":\"\xC3\xA9\xE2\x9C\x93\",\"s\":\"a\\\"b\\\\c\\n\\t/</script>\",\"n\":1.5,\"z\":null,"
    "\"arr\":[{\"b\":1,\"a\":2}]}",
    R"({"runner":"bash","docker_compose_file":"x","bash_script":"echo hi","pre_launch_script":null})",
    R"({"runner":"docker-compose","docker_compose_file":"x","bash_script":"echo hi","pre_launch_script":"#!/bin/sh\necho \"pre\": ok\n"})",
    R"({"pre_launch_script":false,"a":0,"b":-0,"c":0.0})",
    R"({"pre_launch_script":0})",
    "{\"\xC3\xA9\":1,\"z\":2,\"Z\":3,\"_\":4,\"\xF0\x9F\x98\x80\":5,\"\xEF\xBD\x9A\":6,\"10\":7,"
    "\"9\":8,\"01\":9,\"4294967295\":10,\"4294967294\":11,\"\":12,\"a b\":13}",
    R"({"outer":{"z":{"y":{"x":[{"b":[],"a":{}},[],{},[[{"d":1,"c":2}]]]}}},"e":[],"o":{}})",
    R"({"n":[1e21,1e-7,123456789012345678901234,0.1,-0,5e-324,1.7976931348623157e308,1e400,-1e400,9007199254740993,100,1.5e300,2.5e-10,1E2,0.000001,-123.456e-2,12345678901234567890]})",
    R"({"s":"\u0000\u0001\u0008\u000b\u000c\u001f\u007f\u2028\u2029 \": \"x\": y\\\": z </script> \/ \ud83d\ude00"})",
    R"({"constructor":"x","b":{"d":1,"c":2},"a":1})",
    R"({"b":{"constructor":{"z":1,"y":2},"k":{"q":1,"p":2}},"a":[{"constructor":null,"y":1,"x":2}]})",
    R"({"b":1,"__proto__":{"x":1},"a":{"__proto__":"s","z":1,"10":1,"9":2}})",
    R"({"a":1,"b":2,"a":3,"c":{"x":1,"x":{"y":2}}})",
    R"({"t":true,"f":false,"nul":null,"runner":"docker-compose","name":"app","features":["kms"]})",
    R"({"manifest_version":2,"name":"prod-api","runner":"docker-compose","docker_compose_file":"services:\n  api:\n    image: ghcr.io/acme/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n    environment:\n      - API_KEY=${API_KEY}\n      - DATABASE_URL\n    ports:\n      - \"8080:8080\"\n    volumes:\n      - /var/run/dstack.sock:/var/run/dstack.sock\n","kms_enabled":true,"gateway_enabled":true,"public_logs":false,"public_sysinfo":true,"public_tcbinfo":true,"local_key_provider_enabled":false,"key_provider_id":"","allowed_envs":["API_KEY","DATABASE_URL"],"no_instance_id":false,"secure_time":true,"pre_launch_script":"#!/bin/bash\nset -e\necho \"starting\"\n","storage_fs":"zfs","env_pubkey":"0x1234","salt":null,"tproxy_enabled":true})",
};

// (a)/(b) env var sets.
const std::vector<std::vector<EnvVar>> kVarSets = {
    {{"FOO", "bar"}, {"X", "a=b \"q\""}},
    {},
    {{"EMPTY", ""}, {"NL", "line1\nline2\r\n"}, {"CTRL", std::string("\x01\x1f\x7f", 3)}},
    {{"UNI", "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80 \xE2\x80\xA8"}, {"Q", "\\\"'`/<>&"}},
    {{"PRIVATE_KEY", "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"},
     {"BIG", std::string(100000, 'x')}},
    {{"DUP", "1"}, {"DUP", "2"}, {"1", "index-looking key"}},
};

// Random differential cases on top of the tables: dotenv texts built from the tokens the SDK's
// regex cares about, and JSON documents with the keys, strings and numbers where JS semantics
// are subtle. A fixed seed keeps the test deterministic.
constexpr int kRandomEnvTexts = 3000;
constexpr int kRandomComposeDocs = 600;

std::vector<std::string> RandomEnvTexts() {
  static const char* const kTokens[] = {"A",         "B",
                                        "k1",        "x.y",
                                        "-",         "_",
                                        "=",         "=",
                                        "=",         ":",
                                        " ",         "  ",
                                        "\t",        "\n",
                                        "\n",        "\r\n",
                                        "\r",        "#",
                                        "'",         "'",
                                        "\"",        "\"",
                                        "`",         "\\",
                                        "\\n",       "\\r",
                                        "export ",   "export",
                                        "v",         "val ue",
                                        "\xC3\xA9",  "\xE2\x80\xA8",
                                        "\xC2\xA0",  "\xEF\xBB\xBF",
                                        "1",         "0",
                                        "__proto__", "=\"",
                                        "='",        "\\'",
                                        "\\\""};
  std::mt19937 rng(20260121);
  std::vector<std::string> out;
  for (int i = 0; i < kRandomEnvTexts; ++i) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 25);
    for (int j = 0; j < n; ++j) text += kTokens[rng() % std::size(kTokens)];
    out.push_back(std::move(text));
  }
  return out;
}

std::vector<std::string> RandomComposeDocs() {
  static const char* const kKeys[] = {"a",
                                      "b",
                                      "B",
                                      "_",
                                      "0",
                                      "1",
                                      "10",
                                      "9",
                                      "01",
                                      "4294967294",
                                      "4294967295",
                                      "\xC3\xA9",
                                      "\xF0\x9F\x98\x80",
                                      "\xEF\xBD\x9A",
                                      "",
                                      "constructor",
                                      "__proto__",
                                      "runner",
                                      "pre_launch_script",
                                      "docker_compose_file",
                                      "bash_script",
                                      "a b",
                                      "\xE2\x80\xA8"};
  static constexpr absl::string_view kStrings[] = {"",
                                                   "bash",
                                                   "docker-compose",
                                                   "x",
                                                   "\": ",
                                                   "a\": b",
                                                   "\\",
                                                   "\"",
                                                   absl::string_view("\0", 1),
                                                   "\x1f",
                                                   "\x7f",
                                                   "\xC3\xA9\xE2\x9C\x93",
                                                   "\xF0\x9F\x98\x80",
                                                   "</script>",
                                                   "\n\t",
                                                   "\\u0041"};
  std::mt19937 rng(20251028);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto quote = [](absl::string_view s) { return json::serialize(json::value(json::string_view(s.data(), s.size()))); };
  auto number = [&]() {
    std::string out = pick(2) ? "-" : "";
    if (pick(3) == 0) {
      out +=
          std::to_string(1 + pick(9)) + std::string(static_cast<size_t>(pick(25)), static_cast<char>('0' + pick(10)));
    } else {
      out += pick(3) == 0 ? "0" : std::to_string(pick(1000000000));
    }
    if (pick(2)) {
      std::string frac = std::to_string(pick(1000000));
      out += "." + std::string(static_cast<size_t>(pick(8)), '0') + frac;
    }
    if (pick(3) == 0) out += absl::StrCat(pick(2) ? "e-" : "e+", pick(330));
    return out;
  };
  std::function<std::string(int)> value = [&](int depth) -> std::string {
    const int k = pick(depth > 3 ? 5 : 8);
    if (k == 0) return "null";
    if (k == 1) return pick(2) ? "true" : "false";
    if (k == 2 || k == 3) return number();
    if (k == 4) {
      return quote(kStrings[pick(static_cast<int>(std::size(kStrings)))]);
    }
    std::vector<std::string> parts;
    const int n = pick(k == 7 ? 4 : 5);
    for (int i = 0; i < n; ++i) {
      parts.push_back(k == 7 ? value(depth + 1)
                             : quote(kKeys[pick(static_cast<int>(std::size(kKeys)))]) + ":" + value(depth + 1));
    }
    return k == 7 ? "[" + absl::StrJoin(parts, ",") + "]" : "{" + absl::StrJoin(parts, ",") + "}";
  };
  std::vector<std::string> out;
  for (int i = 0; i < kRandomComposeDocs; ++i) {
    std::vector<std::string> parts;
    const int n = pick(7);
    for (int j = 0; j < n; ++j) {
      parts.push_back(quote(kKeys[pick(static_cast<int>(std::size(kKeys)))]) + ":" + value(1));
    }
    out.push_back("{" + absl::StrJoin(parts, ",") + "}");
  }
  return out;
}

json::array VarsToJson(const std::vector<EnvVar>& vars) {
  json::array a;
  for (const EnvVar& v : vars) a.push_back(json::object{{"key", v.key}, {"value", v.value}});
  return a;
}

std::vector<EnvVar> VarsFromJson(const json::value& v) {
  std::vector<EnvVar> out;
  for (const json::value& item : v.as_array()) {
    out.push_back(EnvVar{std::string(item.at("key").as_string()), std::string(item.at("value").as_string())});
  }
  return out;
}

std::string Show(const std::vector<EnvVar>& vars) {
  std::string out;
  for (const EnvVar& v : vars) absl::StrAppend(&out, "[", v.key, "=", v.value, "]");
  return out;
}

class SdkOracleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::string> node_modules = testsupport::NodeModulesDir();
    ASSERT_TRUE(node_modules.ok()) << node_modules.status();
    const char* tmp = std::getenv("TEST_TMPDIR");
    const char* srcdir = std::getenv("TEST_SRCDIR");
    const char* workspace = std::getenv("TEST_WORKSPACE");
    ASSERT_TRUE(tmp && srcdir && workspace);
    const std::string script = absl::StrCat(srcdir, "/", workspace, "/test/sdk_oracle/sdk_oracle.js");

    json::object in;
    json::array env_texts, compose_docs, encrypt, decrypt;
    env_texts_ = new std::vector<std::string>(kEnvTexts);
    for (std::string& t : RandomEnvTexts()) env_texts_->push_back(std::move(t));
    compose_docs_ = new std::vector<std::string>(kComposeDocs);
    for (std::string& d : RandomComposeDocs()) compose_docs_->push_back(std::move(d));
    for (const std::string& t : *env_texts_) env_texts.push_back(json::string(t));
    for (const std::string& d : *compose_docs_) compose_docs.push_back(json::string(d));
    sdk_keys_ = new std::vector<crypto::X25519PrivateKey>();
    our_ciphertexts_ = new std::vector<std::string>();
    for (size_t i = 0; i < kVarSets.size(); ++i) {
      // (a) the SDK encrypts to a key pair we generate (with and without 0x).
      absl::StatusOr<crypto::X25519KeyPair> kp = crypto::GenerateX25519KeyPair();
      ASSERT_TRUE(kp.ok());
      const std::string pub = chain::ToHex(kp->public_key, /*prefix=*/false);
      encrypt.push_back(json::object{{"vars", VarsToJson(kVarSets[i])},
                                     {"public_key", i % 2 == 0 ? pub : "0x" + pub},
                                     {"private_key", chain::ToHex(kp->private_key.bytes(), /*prefix=*/false)}});
      sdk_keys_->push_back(std::move(kp->private_key));
      // (b) we encrypt, node decrypts.
      absl::StatusOr<crypto::X25519KeyPair> app = crypto::GenerateX25519KeyPair();
      ASSERT_TRUE(app.ok());
      absl::StatusOr<std::string> ct =
          cloudapi::EncryptEnvVars(kVarSets[i], chain::ToHex(app->public_key, /*prefix=*/false));
      ASSERT_TRUE(ct.ok()) << ct.status();
      our_ciphertexts_->push_back(*ct);
      decrypt.push_back(
          json::object{{"ciphertext", *ct}, {"private_key", chain::ToHex(app->private_key.bytes(), /*prefix=*/false)}});
    }
    in["env_texts"] = std::move(env_texts);
    in["compose_docs"] = std::move(compose_docs);
    in["encrypt"] = std::move(encrypt);
    in["decrypt"] = std::move(decrypt);

    const std::string in_path = absl::StrCat(tmp, "/oracle_in.json");
    const std::string out_path = absl::StrCat(tmp, "/oracle_out.json");
    {
      std::ofstream f(in_path, std::ios::binary);
      f << json::serialize(in);
      ASSERT_TRUE(f.good());
    }
    const std::string cmd = absl::StrCat("node '", script, "' '", *node_modules, "' '", in_path, "' '", out_path, "'");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream f(out_path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    json::error_code ec;
    json::value out = json::parse(ss.str(), ec);
    ASSERT_FALSE(ec) << ec.message();
    out_ = new json::object(std::move(out.as_object()));
  }

  static void TearDownTestSuite() {
    delete out_;
    delete sdk_keys_;
    delete our_ciphertexts_;
    delete env_texts_;
    delete compose_docs_;
    out_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(out_, nullptr) << "the node oracle did not run"; }

  static json::object* out_;
  static std::vector<crypto::X25519PrivateKey>* sdk_keys_;
  static std::vector<std::string>* our_ciphertexts_;
  static std::vector<std::string>* env_texts_;     // kEnvTexts, then the random ones
  static std::vector<std::string>* compose_docs_;  // kComposeDocs, then the random ones
};

json::object* SdkOracleTest::out_ = nullptr;
std::vector<crypto::X25519PrivateKey>* SdkOracleTest::sdk_keys_ = nullptr;
std::vector<std::string>* SdkOracleTest::our_ciphertexts_ = nullptr;
std::vector<std::string>* SdkOracleTest::env_texts_ = nullptr;
std::vector<std::string>* SdkOracleTest::compose_docs_ = nullptr;

TEST_F(SdkOracleTest, PinnedSdkVersions) {
  EXPECT_EQ(out_->at("sdk_version").as_string(), "0.2.9");
  EXPECT_EQ(out_->at("dstack_sdk_version").as_string(), "0.5.7");
}

TEST_F(SdkOracleTest, ParsedEnvVarsAgree) {
  const json::array& sdk = out_->at("env").as_array();
  ASSERT_EQ(sdk.size(), env_texts_->size());
  int table_refusals = 0;
  int mismatches = 0;
  for (size_t i = 0; i < env_texts_->size() && mismatches < 10; ++i) {
    const std::string& text = (*env_texts_)[i];
    SCOPED_TRACE(absl::StrCat("env case #", i, ": ", json::serialize(json::string(text))));
    const std::vector<EnvVar> want = VarsFromJson(sdk[i]);
    absl::StatusOr<std::vector<EnvVar>> as_sdk = cloudapi::ParseEnvVarsAsSdk(text);
    ASSERT_TRUE(as_sdk.ok()) << as_sdk.status();
    EXPECT_EQ(Show(*as_sdk), Show(want));
    mismatches += Show(*as_sdk) != Show(want);
    // The strict parser either agrees or refuses (where the SDK silently drops a line).
    absl::StatusOr<std::vector<EnvVar>> strict = cloudapi::ParseEnvVars(text);
    if (strict.ok()) {
      EXPECT_EQ(Show(*strict), Show(want));
    } else {
      table_refusals += i < kEnvTexts.size();
      EXPECT_EQ(strict.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  EXPECT_GT(table_refusals, 0);
  EXPECT_LT(table_refusals, static_cast<int>(kEnvTexts.size()) / 3);
}

TEST_F(SdkOracleTest, ComposeHashesAgree) {
  using cloudapi::ComposeHashForm;
  const json::array& sdk = out_->at("compose").as_array();
  ASSERT_EQ(sdk.size(), compose_docs_->size());
  for (size_t i = 0; i < compose_docs_->size() && !HasFailure(); ++i) {
    const std::string& doc_text = (*compose_docs_)[i];
    SCOPED_TRACE(absl::StrCat("compose doc #", i, ": ", doc_text));
    const json::object& want = sdk[i].as_object();
    auto hash = [&](ComposeHashForm form) {
      absl::StatusOr<std::string> h = cloudapi::ComposeHash(doc_text, form);
      EXPECT_TRUE(h.ok()) << h.status();
      return h.ok() ? *h : std::string();
    };
    auto input = [&](ComposeHashForm form) {
      absl::StatusOr<std::string> s = cloudapi::ComposeHashInput(doc_text, form);
      EXPECT_TRUE(s.ok()) << s.status();
      return s.ok() ? *s : std::string();
    };
    EXPECT_EQ(hash(ComposeHashForm::kCompact), want.at("compact").as_string());
    EXPECT_EQ(hash(ComposeHashForm::kCompactNormalized), want.at("compact_normalized").as_string());
    EXPECT_EQ(hash(ComposeHashForm::kIndented), want.at("indented").as_string());
    EXPECT_EQ(input(ComposeHashForm::kCompact), want.at("compact_input").as_string());
    EXPECT_EQ(input(ComposeHashForm::kIndented), want.at("indented_input").as_string());
    absl::StatusOr<json::value> doc = cloudapi::ParseJsonLikeJs(doc_text);
    ASSERT_TRUE(doc.ok());
    absl::StatusOr<std::string> dump = cloudapi::DumpAppCompose(doc->as_object());
    ASSERT_TRUE(dump.ok());
    EXPECT_EQ(*dump, want.at("dump").as_string());
  }
}

TEST_F(SdkOracleTest, WeDecryptWhatTheSdkEncrypts) {
  const json::array& sdk = out_->at("encrypted").as_array();
  ASSERT_EQ(sdk.size(), kVarSets.size());
  for (size_t i = 0; i < kVarSets.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("var set #", i));
    const std::string ct(sdk[i].as_string());
    absl::StatusOr<std::string> plaintext = cloudapi::EnvVarsPlaintext(kVarSets[i]);
    ASSERT_TRUE(plaintext.ok());
    EXPECT_EQ(ct.size(), 2 * (60 + plaintext->size()));  // same plaintext bytes, same layout
    absl::StatusOr<std::vector<EnvVar>> got = cloudapi::DecryptEnvVars(ct, (*sdk_keys_)[i]);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, kVarSets[i]);
  }
}

// The SDK's ciphertext and ours for the same variables, both opened by the same code that is
// neither the SDK's nor ours (test/oracle/phala_oracle.js): the same layout (32-byte ephemeral key,
// 12-byte IV, ciphertext, 16-byte tag) around byte-identical plaintexts.
TEST_F(SdkOracleTest, SdkAndWeEncryptTheSamePlaintextBytes) {
  const json::array& sdk = out_->at("independent").as_object().at("sdk").as_array();
  const json::array& ours = out_->at("independent").as_object().at("ours").as_array();
  const json::array& sdk_ct = out_->at("encrypted").as_array();
  ASSERT_EQ(sdk.size(), kVarSets.size());
  ASSERT_EQ(ours.size(), kVarSets.size());
  for (size_t i = 0; i < kVarSets.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("var set #", i));
    ASSERT_FALSE(sdk[i].as_string().starts_with("error")) << sdk[i].as_string();
    ASSERT_FALSE(ours[i].as_string().starts_with("error")) << ours[i].as_string();
    EXPECT_EQ(ours[i].as_string(), sdk[i].as_string());
    EXPECT_EQ((*our_ciphertexts_)[i].size(), sdk_ct[i].as_string().size());
  }
}

TEST_F(SdkOracleTest, NodeDecryptsWhatWeEncrypt) {
  const json::array& node = out_->at("decrypted").as_array();
  ASSERT_EQ(node.size(), kVarSets.size());
  for (size_t i = 0; i < kVarSets.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("var set #", i));
    const json::object& r = node[i].as_object();
    ASSERT_FALSE(r.contains("error")) << r.at("error").as_string();
    EXPECT_EQ(VarsFromJson(r.at("vars")), kVarSets[i]);
    EXPECT_EQ(r.at("plaintext").as_string(), *cloudapi::EnvVarsPlaintext(kVarSets[i]));
  }
}

}  // namespace
