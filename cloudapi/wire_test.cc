#include "cloudapi/wire.h"

#include <gtest/gtest.h>

#include <string>

#include <boost/json.hpp>

#include "cloudapi/api_error.h"
#include "cloudapi/compose_hash.h"
#include "cloudapi/js_json.h"

namespace cloudapi::wire {
namespace {

namespace json = boost::json;

constexpr char kKmsInfo[] =
    R"({"id":"kms-1","slug":"base","url":"https://kms","version":"v0.5","chain_id":8453,)"
    R"("kms_contract_address":"0x2222222222222222222222222222222222222222","gateway_app_id":"0x33",)"
    R"("future_field":{"x":1}})";

// 64 (a hash) or 40 (an app id) copies of one hex digit.
std::string Hex64(char digit) { return std::string(64, digit); }
std::string Hex40(char digit) { return std::string(40, digit); }
chain::Hash32 Hash(char digit) { return *chain::Hash32::FromHex(Hex64(digit)); }
chain::Address Addr(char digit) { return *chain::Address::Parse("0x" + Hex40(digit)); }

TEST(CvmRef, PathSegments) {
  EXPECT_EQ(CvmRef::Id("my-app").path_segment(), "my-app");
  EXPECT_EQ(CvmRef::Id("a b/c").path_segment(), "a%20b%2Fc");
  EXPECT_EQ(CvmRef::Uuid("0A1B2C3D-0000-1111-2222-333344445555")->path_segment(), "0a1b2c3d000011112222333344445555");
  EXPECT_FALSE(CvmRef::Uuid("xyz").ok());
  const std::string app(40, 'A');
  EXPECT_EQ(CvmRef::AppId("0x" + app)->path_segment(), "app_" + std::string(40, 'a'));
  EXPECT_EQ(CvmRef::AppId(app)->path_segment(), "app_" + std::string(40, 'a'));
  EXPECT_FALSE(CvmRef::AppId("app_" + app).ok());
  EXPECT_EQ(CvmRef::InstanceId(std::string(40, '1'))->path_segment(), "instance_" + std::string(40, '1'));
}

TEST(AppCompose, RoundTripKeepsEveryKeyAndTheHash) {
  const std::string text =
      R"({"manifest_version":2,"name":"my-app","runner":"docker-compose",)"
      R"("docker_compose_file":"services:\n  app:\n    image: nginx:latest\n","kms_enabled":true,)"
      R"("gateway_enabled":true,"public_logs":true,"public_sysinfo":true,"public_tcbinfo":true,)"
      R"("local_key_provider_enabled":false,"key_provider_id":"","allowed_envs":["FOO","BAR"],)"
      R"("no_instance_id":false,"secure_time":false,"pre_launch_script":"","features":["kms","tproxy-net"],)"
      R"("salt":null,"storage_fs":7})";
  absl::StatusOr<json::value> v = ParseJsonLikeJs(text);
  ASSERT_TRUE(v.ok());
  AppCompose c = AppCompose::FromJson(v->as_object());
  EXPECT_EQ(c.manifest_version, 2);
  EXPECT_EQ(c.name, "my-app");
  EXPECT_EQ(c.allowed_envs, (std::vector<std::string>{"FOO", "BAR"}));
  EXPECT_FALSE(c.salt.has_value());
  EXPECT_TRUE(c.extra.contains("salt"));        // null kept verbatim
  EXPECT_TRUE(c.extra.contains("storage_fs"));  // wrong type kept verbatim
  EXPECT_TRUE(c.extra.contains("key_provider_id"));
  json::object back = c.ToJson();
  EXPECT_EQ(back.size(), v->as_object().size());
  for (ComposeHashForm form : {ComposeHashForm::kCompact, ComposeHashForm::kIndented}) {
    EXPECT_EQ(*ComposeHash(back, form), *ComposeHash(v->as_object(), form));
  }
  // Without the oddities: the facts' worked vector (§9 (a)).
  json::object plain = v->as_object();
  plain.erase("salt");
  plain.erase("storage_fs");
  EXPECT_EQ(*ComposeHash(AppCompose::FromJson(plain).ToJson(), ComposeHashForm::kCompact),
            "53584c9405387210aab9b46b92259ff2a99b9ffd30cd3aaf97e2b10cff7ba33c");
}

TEST(Requests, ProvisionBodyLikeTheSdk) {
  ProvisionCvmRequest r;
  r.name = "my-app-1";
  r.node_id = 7;
  r.kms = "BASE";
  r.env_keys = std::vector<std::string>{"FOO"};
  r.compose_file.docker_compose_file = "services: {}\n";
  r.compose_file.tproxy_enabled = true;
  absl::StatusOr<json::object> body = ProvisionCvmBody(r);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(json::serialize(*body),
            R"({"name":"my-app-1","teepod_id":7,"instance_type":"tdx.small",)"
            R"("compose_file":{"name":"","docker_compose_file":"services: {}\n","gateway_enabled":true},)"
            R"("kms":"BASE","env_keys":["FOO"]})");
  r.vcpu = 2;
  EXPECT_FALSE(ProvisionCvmBody(r)->contains("instance_type"));

  for (const std::string& bad : std::vector<std::string>{"abcd", "1abcde", "ab--cd", "abcd-", std::string(64, 'a')}) {
    r.name = bad;
    EXPECT_EQ(ProvisionCvmBody(r).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  r.name = "my-app-1";
  r.compose_file.docker_compose_file = std::string(150 * 1024, 'x');
  r.compose_file.pre_launch_script = std::string(60 * 1024, 'y');
  EXPECT_EQ(ProvisionCvmBody(r).status().message(),
            "Combined size of docker_compose_file and pre_launch_script must not exceed 200KB "
            "(current: 210KB)");
  r.compose_file.pre_launch_script.reset();
  r.kms = "SOLANA";
  EXPECT_FALSE(ProvisionCvmBody(r).ok());
}

TEST(Requests, OtherBodies) {
  CommitCvmProvisionRequest c;
  c.app_id = Addr('a');
  c.compose_hash = Hash('b');
  c.kms_id = "base";
  // The API's form of the app id (PHALA KMS) ...
  EXPECT_EQ(json::serialize(CommitCvmProvisionBody(c)),
            R"({"app_id":")" + Hex40('a') + R"(","compose_hash":")" + Hex64('b') + R"(","kms_id":"base"})");
  // ... EIP-55 with the app contract (on-chain KMS), as the CLI.
  const chain::Address app = *chain::Address::Parse("0x5fbdb2315678afecb367f032d93f642f64180aa3");
  c.app_id = app;
  c.contract_address = app;
  EXPECT_EQ(json::serialize(CommitCvmProvisionBody(c)),
            R"({"app_id":"0x5FbDB2315678afecb367f032d93F642f64180aa3","compose_hash":")" + Hex64('b') +
                R"(","kms_id":"base","contract_address":"0x5FbDB2315678afecb367f032d93F642f64180aa3"})");
  UpdateCvmEnvsRequest u;
  u.encrypted_env = "00";
  u.env_keys = std::vector<std::string>{};
  u.compose_hash = Hash('c');
  u.transaction_hash = Hash('d');
  EXPECT_EQ(json::serialize(UpdateCvmEnvsBody(u)), R"({"encrypted_env":"00","env_keys":[],"compose_hash":")" +
                                                       Hex64('c') + R"(","transaction_hash":"0x)" + Hex64('d') +
                                                       R"("})");
  ProvisionComposeFileUpdateRequest p;
  p.app_compose.docker_compose_file = "x";
  p.app_compose.extra["update_env_vars"] = "stale";
  p.update_env_vars = false;
  EXPECT_EQ(json::serialize(*ProvisionComposeFileUpdateBody(p)),
            R"({"docker_compose_file":"x","update_env_vars":false})");
  CommitComposeFileUpdateRequest cc;
  cc.compose_hash = Hash('e');
  EXPECT_EQ(json::serialize(CommitComposeFileUpdateBody(cc)), R"({"compose_hash":")" + Hex64('e') + R"("})");
  EXPECT_EQ(ListKmsQuery({}), "");
  ListKmsRequest l;
  l.is_onchain = true;
  l.page = 2;
  EXPECT_EQ(ListKmsQuery(l), "?page=2&is_onchain=true");
}

TEST(Responses, TolerantOfUnknownFields) {
  absl::StatusOr<KmsInfo> k = ParseKmsInfo(json::parse(kKmsInfo));
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->Ref(), "base");
  EXPECT_EQ(k->chain_id, 8453);
  EXPECT_TRUE(k->HasSdkSupportedChain());
  absl::StatusOr<KmsList> list = ParseKmsList(json::parse(
      std::string(R"({"items":[)") + kKmsInfo + R"(],"total":1,"page":1,"page_size":20,"pages":1,"extra":true})"));
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->items.size(), 1u);

  absl::StatusOr<ProvisionCvmResponse> p =
      ParseProvisionCvmResponse(json::parse(R"({"app_id":null,"compose_hash":"0x)" + Hex64('A') +
                                            R"(","teepod_id":3,"kms_info":)" + kKmsInfo + R"(,"new":1})"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->app_id.has_value());
  EXPECT_EQ(p->node_id, 3);
  EXPECT_EQ(p->kms_info->id, "kms-1");
  EXPECT_EQ(p->compose_hash, Hash('a'));
  EXPECT_EQ(p->kms_info->kms_contract_address, Addr('2'));

  // Integral doubles count as integers (JS numbers).
  EXPECT_EQ(ParseKmsList(json::parse(R"({"items":[],"total":1.0,"page":1,"page_size":1,"pages":1})"))->total, 1);
}

TEST(Responses, PreciseErrorsForBadShapes) {
  EXPECT_EQ(ParseProvisionCvmResponse(json::parse(R"({"compose_hash":5})")).status().message(),
            "unexpected provision cvm response: compose_hash: want string, got number");
  EXPECT_EQ(ParseProvisionCvmResponse(json::parse(R"({})")).status().message(),
            "unexpected provision cvm response: compose_hash: missing string");
  // Hashes and addresses are parsed at the edge.
  EXPECT_EQ(ParseProvisionCvmResponse(json::parse(R"({"compose_hash":"abab"})")).status().message(),
            "unexpected provision cvm response: compose_hash: want 64 hex digits (a hash)");
  EXPECT_EQ(ParseProvisionCvmResponse(json::parse(R"({"compose_hash":")" + Hex64('a') + R"(","app_id":"0x12"})"))
                .status()
                .message(),
            "unexpected provision cvm response: app_id: want 40 hex digits (an address)");
  EXPECT_EQ(ParseKmsList(json::parse(R"({"items":[{"id":"x"}],"total":1,"page":1,"page_size":1,"pages":1})"))
                .status()
                .message(),
            "unexpected kms list response: items[0].url: missing string");
  EXPECT_EQ(ParseCurrentUser(json::parse("[]")).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ParseUpdateAccepted(json::parse(R"({"status":"in_progress","message":"m","correlation_id":"c"})"), true)
                .status()
                .message(),
            "unexpected update cvm envs response: allowed_envs_changed: missing boolean");
  EXPECT_TRUE(ParseUpdateAccepted(json::parse(R"({"status":"in_progress","correlation_id":"c"})"), false).ok());
}

TEST(Precondition, FromThe465BodyOfTheFacts) {
  const std::string body =
      std::string(R"({"detail":{"error_code":"ERR-01-005","message":"Compose hash registration required",)"
                  R"("details":[{"field":"compose_hash","value":")") +
      Hex64('a') + R"("},{"field":"app_id","value":")" + Hex40('1') + R"("},{"field":"device_id","value":")" +
      Hex64('c') + R"("},{"field":"kms_info","value":)" + kKmsInfo + "}]}}";
  absl::StatusOr<std::optional<PreconditionRequired>> p = PreconditionFromError(ParseApiError(465, body));
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->has_value());
  EXPECT_EQ((*p)->compose_hash, Hash('a'));
  EXPECT_EQ((*p)->app_id, Addr('1'));
  EXPECT_EQ((*p)->device_id, Hash('c'));
  EXPECT_EQ((*p)->kms_info.slug, "base");
  EXPECT_EQ((*p)->error_code, "ERR-01-005");
  EXPECT_EQ((*p)->message, "Compose hash registration required");

  // No app_id: not a precondition value (the SDK rethrows the error).
  EXPECT_FALSE(
      PreconditionFromError(
          ParseApiError(
              465, R"({"detail":{"error_code":"E","message":"m","details":[{"field":"compose_hash","value":"ab"}]}})"))
          ->has_value());
  // kms_info missing: the SDK's zod parse fails; so do we.
  EXPECT_EQ(
      PreconditionFromError(
          ParseApiError(
              465,
              R"({"error_code":"E","message":"m","details":[{"field":"compose_hash","value":"ab"},{"field":"app_id","value":"11"}]})"))
          .status()
          .code(),
      absl::StatusCode::kInternal);

  absl::StatusOr<std::optional<PreconditionRequired>> b =
      PreconditionFromBody(json::parse(R"({"status":"precondition_required","compose_hash":")" + Hex64('a') +
                                       R"(","app_id":"0x)" + Hex40('1') + R"(","kms_info":)" + kKmsInfo + "}"));
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(b->has_value());
  EXPECT_EQ((*b)->message, "Compose hash verification required");
  EXPECT_FALSE((*b)->device_id.has_value());
  // A malformed hash is an unexpected response, not a precondition.
  EXPECT_EQ(PreconditionFromBody(json::parse(R"({"status":"precondition_required","compose_hash":"ab","app_id":")" +
                                             Hex40('1') + R"(","kms_info":)" + kKmsInfo + "}"))
                .status()
                .code(),
            absl::StatusCode::kInternal);
  EXPECT_FALSE(PreconditionFromBody(json::parse(R"({"status":"in_progress"})"))->has_value());
}

TEST(Responses, CvmInfo) {
  absl::StatusOr<CvmInfo> c = ParseCvmInfo(json::parse(R"({
    "id":"0a1b","name":"n","status":"running","app_id":")" +
                                                       Hex40('a') + R"(","kms_type":"base",
    "resource":{"instance_type":"tdx.small","vcpu":1},"gateway":{"base_domain":"d","cname":null},
    "node_info":{"object_type":"node","id":1,"name":"node","device_id":")" +
                                                       Hex64('d') + R"("},
    "os":{"os_image_hash":"oo"},"progress":{"target":null,"correlation_id":"cc"},
    "kms_info":{"chain_id":31337,"dstack_app_address":"0x)" +
                                                       Hex40('A') + R"(","encrypted_env_pubkey":null},
    "compose_hash":")" + Hex64('e') + R"(","listed":false,"public_logs":true,"services":[],"whatever":[1]})"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kms_info->chain_id, 31337);
  EXPECT_EQ(c->kms_info->dstack_app_address, Addr('a'));
  EXPECT_FALSE(c->kms_info->encrypted_env_pubkey.has_value());
  EXPECT_EQ(c->device_id, Hash('d'));
  EXPECT_EQ(c->app_id, Addr('a'));
  EXPECT_EQ(c->compose_hash, Hash('e'));
  EXPECT_EQ(c->progress_correlation_id, "cc");
  EXPECT_EQ(c->public_logs, true);
}

}  // namespace
}  // namespace cloudapi::wire
