#include "cloudapi/compose_hash.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "chain/hex.h"
#include "cloudapi/js_json.h"
#include "crypto/sha256.h"

namespace cloudapi {
namespace {

namespace json = boost::json;

// facts/phala-cloud-api.md §9 worked examples (node 20, @phala/cloud 0.2.9).
constexpr absl::string_view kFull = R"({"manifest_version":2,"name":"my-app","runner":"docker-compose",
  "docker_compose_file":"services:\n  app:\n    image: nginx:latest\n","kms_enabled":true,
  "gateway_enabled":true,"public_logs":true,"public_sysinfo":true,"public_tcbinfo":true,
  "local_key_provider_enabled":false,"key_provider_id":"","allowed_envs":["FOO","BAR"],
  "no_instance_id":false,"secure_time":false,"pre_launch_script":"","features":["kms","tproxy-net"]})";
constexpr absl::string_view kMinimal = R"({"docker_compose_file":"services: {}\n","name":"a","manifest_version":2})";
constexpr absl::string_view kEscaping =
    "{\"name\":\"\xC3\xA9\xE2\x9C\x93\",\"s\":\"a\\\"b\\\\c\\n\\t/</script>\",\"n\":1.5,\"z\":null,"
    "\"arr\":[{\"b\":1,\"a\":2}]}";

std::string Hash(absl::string_view doc, ComposeHashForm form) {
  absl::StatusOr<std::string> h = ComposeHash(doc, form);
  EXPECT_TRUE(h.ok()) << h.status();
  return h.ok() ? *h : "";
}

std::string Input(absl::string_view doc, ComposeHashForm form) {
  absl::StatusOr<std::string> s = ComposeHashInput(doc, form);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

TEST(ComposeHash, FactsFullExample) {
  EXPECT_EQ(
      Input(kFull, ComposeHashForm::kCompact),
      R"({"allowed_envs":["FOO","BAR"],"docker_compose_file":"services:\n  app:\n    image: nginx:latest\n","features":["kms","tproxy-net"],"gateway_enabled":true,"key_provider_id":"","kms_enabled":true,"local_key_provider_enabled":false,"manifest_version":2,"name":"my-app","no_instance_id":false,"pre_launch_script":"","public_logs":true,"public_sysinfo":true,"public_tcbinfo":true,"runner":"docker-compose","secure_time":false})");
  EXPECT_EQ(Hash(kFull, ComposeHashForm::kCompact), "53584c9405387210aab9b46b92259ff2a99b9ffd30cd3aaf97e2b10cff7ba33c");
  EXPECT_EQ(Hash(kFull, ComposeHashForm::kCompactNormalized),
            "cc428391b2cf95f4bdeb4147d29be7a27886fb29d8bf2884841e920e5676ba3b");
  EXPECT_EQ(Hash(kFull, ComposeHashForm::kIndented),
            "e163df3cf0b85c0dc1ab2f791fc929df14a7ab57d594d608f42cb673f4b7309c");
  const std::string indented = Input(kFull, ComposeHashForm::kIndented);
  EXPECT_TRUE(absl::StartsWith(
      indented, "{\n    \"allowed_envs\":[\n        \"FOO\",\n        \"BAR\"\n    ],\n    \"docker_compose_file\""));
  EXPECT_TRUE(absl::EndsWith(indented, "\n    \"secure_time\":false\n}"));
  // (b) without preprocessing: dumpAppCompose directly.
  absl::StatusOr<json::value> doc = ParseJsonLikeJs(kFull);
  ASSERT_TRUE(doc.ok());
  absl::StatusOr<std::string> dump = DumpAppCompose(doc->get_object());
  ASSERT_TRUE(dump.ok());
  EXPECT_NE(dump->find("\"pre_launch_script\":\"\""), std::string::npos);
  EXPECT_EQ(chain::ToHex(crypto::Sha256(*dump), false),
            "2797d5040bc16a55b84e59b0157517057b8e0c1fe093e3b1d3d2972e2ea9bfee");
}

TEST(ComposeHash, FactsMinimalExample) {
  EXPECT_EQ(Input(kMinimal, ComposeHashForm::kCompact),
            R"({"docker_compose_file":"services: {}\n","manifest_version":2,"name":"a"})");
  EXPECT_EQ(Hash(kMinimal, ComposeHashForm::kCompact),
            "e14986e6aadbf55b6d3a51b549ff263fd1e1a9fdec69a7e07a50c1425085fb35");
  EXPECT_EQ(Input(kMinimal, ComposeHashForm::kIndented),
            "{\n    \"docker_compose_file\":\"services: {}\\n\",\n    \"manifest_version\":2,\n"
            "    \"name\":\"a\"\n}");
  EXPECT_EQ(Hash(kMinimal, ComposeHashForm::kIndented),
            "a237ba8c99fd035640f048e581e9b490434afe38432b6fc55cc7862db3d3aa20");
}

TEST(ComposeHash, FactsEscapingExample) {
  EXPECT_EQ(Input(kEscaping, ComposeHashForm::kCompact),
            "{\"arr\":[{\"a\":2,\"b\":1}],\"n\":1.5,\"name\":\"\xC3\xA9\xE2\x9C\x93\","
            "\"s\":\"a\\\"b\\\\c\\n\\t/</script>\",\"z\":null}");
  EXPECT_EQ(Hash(kEscaping, ComposeHashForm::kCompact),
            "cb5b905eaed7815eabdc0ec59f07f5557ca341c92dd93baa3857b3489673e5ef");
  // Printed by node for withComposeMethods(doc).getHash().
  EXPECT_EQ(Hash(kEscaping, ComposeHashForm::kIndented),
            "83f3b69ccfb1436f20f1b650c6c900b04b115f7a8a977f949295994ce3ae6e73");
}

TEST(ComposeHash, ConstructorKeyLeavesObjectUnsorted) {
  constexpr absl::string_view kDoc = R"({"constructor":"x","b":{"d":1,"c":2},"a":1})";
  EXPECT_EQ(Input(kDoc, ComposeHashForm::kCompact), kDoc);
  EXPECT_EQ(Hash(kDoc, ComposeHashForm::kCompact), "314ee0bace3a0f9c2c1a31e9318fe2176be4f6735961f5a8dd0872d071ed180b");
}

TEST(ComposeHash, ProtoKeysVanishAndIndexKeysGoFirst) {
  absl::StatusOr<json::value> doc =
      ParseJsonLikeJs(R"({"b":1,"__proto__":{"x":1},"a":{"__proto__":"s","z":1,"10":1,"9":2}})");
  ASSERT_TRUE(doc.ok());
  absl::StatusOr<std::string> parsed = StringifyLikeJs(*doc);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, R"({"b":1,"__proto__":{"x":1},"a":{"9":2,"10":1,"__proto__":"s","z":1}})");
  absl::StatusOr<std::string> sorted = StringifyLikeJs(SortObjectLikeSdk(*doc));
  ASSERT_TRUE(sorted.ok());
  EXPECT_EQ(*sorted, R"({"a":{"9":2,"10":1,"z":1},"b":1})");
}

TEST(ComposeHash, PreprocessAndColonSpaceReplacement) {
  constexpr absl::string_view kDoc =
      R"({"k":"a\": b","pre_launch_script":0,"runner":"bash","docker_compose_file":"x","bash_script":"y"})";
  EXPECT_EQ(Input(kDoc, ComposeHashForm::kIndented),
            "{\n    \"bash_script\":\"y\",\n    \"k\":\"a\\\":b\",\n    \"runner\":\"bash\"\n}");
  EXPECT_EQ(Hash(kDoc, ComposeHashForm::kIndented), "122e2eb2f6d486bf1faf0465e263959ec0e7e4dbe870953ff3cf04685ab1e49b");
}

TEST(PreprocessAppCompose, Rules) {
  auto pre = [](absl::string_view text) {
    absl::StatusOr<json::value> v = ParseJsonLikeJs(text);
    EXPECT_TRUE(v.ok());
    return *StringifyLikeJs(PreprocessAppCompose(v->get_object()));
  };
  EXPECT_EQ(pre(R"({"runner":"docker-compose","bash_script":"b","docker_compose_file":"d"})"),
            R"({"runner":"docker-compose","docker_compose_file":"d"})");
  EXPECT_EQ(pre(R"({"runner":"bash","bash_script":"b","docker_compose_file":"d"})"),
            R"({"runner":"bash","bash_script":"b"})");
  EXPECT_EQ(pre(R"({"runner":"other","bash_script":"b","docker_compose_file":"d"})"),
            R"({"runner":"other","bash_script":"b","docker_compose_file":"d"})");
  EXPECT_EQ(pre(R"({"runner":["bash"],"docker_compose_file":"d"})"),
            R"({"runner":["bash"],"docker_compose_file":"d"})");
  for (absl::string_view falsy : {"\"\"", "null", "false", "0", "-0", "0.0"}) {
    EXPECT_EQ(pre(absl::StrCat(R"({"a":1,"pre_launch_script":)", falsy, R"(,"z":2})")), R"({"a":1,"z":2})") << falsy;
  }
  for (absl::string_view truthy : {"\"x\"", "true", "1", "[]", "{}", "\"0\""}) {
    EXPECT_NE(pre(absl::StrCat(R"({"pre_launch_script":)", truthy, "}")), "{}") << truthy;
  }
}

TEST(ComposeHash, RejectsNonObjects) {
  EXPECT_EQ(ComposeHash("[1]", ComposeHashForm::kCompact).status().message(), "app compose: not a JSON object");
  EXPECT_FALSE(ComposeHash("{", ComposeHashForm::kIndented).ok());
}

TEST(ComposeHash, ObjectAndTextAgree) {
  absl::StatusOr<json::value> doc = ParseJsonLikeJs(kFull);
  ASSERT_TRUE(doc.ok());
  for (ComposeHashForm form :
       {ComposeHashForm::kCompact, ComposeHashForm::kCompactNormalized, ComposeHashForm::kIndented}) {
    EXPECT_EQ(*ComposeHash(doc->get_object(), form), Hash(kFull, form));
  }
}

}  // namespace
}  // namespace cloudapi
