// Routing, bodies and status codes of the simulator over real HTTP (in-process, port 0), with a
// fake JSON-RPC chain for the on-chain checks. The real SDK is exercised by sdk_flow_test.
#include "test/cloudsim/simulator.h"

#include <gtest/gtest.h>

#include <string>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "cloudapi/compose_hash.h"
#include "cloudapi/env_encryption.h"
#include "test/cloudsim/eth_forms.h"
#include "test/cloudsim/sim_crypto.h"
#include "test/cloudsim/test_util.h"

namespace cloudsim {
namespace {

namespace json = boost::json;
using testing::FakeChain;
using testing::kApp;
using testing::kDeployer;
using testing::kKms;
using testing::OnchainConfig;
using testing::Reply;
using testing::SimInstance;
using testing::StringAt;

std::string Encrypt(const std::string& pub_hex, const std::vector<cloudapi::EnvVar>& vars) {
  return *cloudapi::EncryptEnvVars(vars, pub_hex);
}

TEST(Routing, AuthNotFoundAndMethods) {
  SimInstance s(SimConfig{});
  Reply me = s.Api("GET", "/auth/me");
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(StringAt(me.json().at("user"), "role"), "user");
  EXPECT_TRUE(me.json().at("credits").as_object().contains("outstanding_amount"));
  Reply legacy = s.Api("GET", "/auth/me", "", {{"X-Phala-Version", "2025-10-28"}});
  EXPECT_TRUE(legacy.json().as_object().contains("team_name"));

  Reply missing = s.client().Send("GET", "/api/v1/auth/me");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.body, R"({"detail":"Invalid API key"})");
  EXPECT_EQ(s.Api("GET", "/auth/me", "", {{"X-API-Key", "wrong"}}).status, 401);
  Reply nf = s.Api("GET", "/no/such/route");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.body, R"({"detail":"Not Found"})");
  // Unknown routes are 404 before auth, as in FastAPI.
  EXPECT_EQ(s.client().Send("GET", "/api/v1/nothing").status, 404);
  EXPECT_EQ(s.client().Send("GET", "/elsewhere").status, 404);
  EXPECT_EQ(s.Api("DELETE", "/kms").status, 405);
  // All of that went over one keep-alive connection.
  EXPECT_EQ(s.client().connects(), 1);
}

TEST(Kms, ListFilterAndStrictShape) {
  FakeChain chain;
  SimInstance s(OnchainConfig(chain));
  Reply all = s.Api("GET", "/kms");
  ASSERT_EQ(all.status, 200);
  json::object o = all.json().as_object();
  EXPECT_EQ(o.size(), 5u);  // items total page page_size pages, nothing else
  EXPECT_EQ(o.at("total").as_int64(), 3);
  Reply onchain = s.Api("GET", "/kms?is_onchain=true");
  json::array items = onchain.json().at("items").as_array();
  ASSERT_EQ(items.size(), 2u);
  for (const json::value& k : items) {
    EXPECT_EQ(k.as_object().size(), 7u);
    EXPECT_EQ(k.at("chain_id").as_int64(), 31337);
    EXPECT_EQ(StringAt(k, "kms_contract_address"), ChecksumAddress(kKms));
    EXPECT_EQ(StringAt(k, "gateway_app_id"), "0x1111111111111111111111111111111111111111");
  }
  Reply phala = s.Api("GET", "/kms?is_onchain=false");
  ASSERT_EQ(phala.json().at("items").as_array().size(), 1u);
  EXPECT_TRUE(phala.json().at("items").as_array()[0].at("chain_id").is_null());
  Reply paged = s.Api("GET", "/kms?page=2&page_size=2");
  EXPECT_EQ(paged.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(paged.json().at("pages").as_int64(), 2);
  Reply bad = s.Api("GET", "/kms?is_onchain=maybe");
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(StringAt(bad.json().at("detail").as_array()[0], "type"), "bool_parsing");
  EXPECT_EQ(s.Api("GET", "/kms?page=0").status, 422);

  EXPECT_EQ(StringAt(s.Api("GET", "/kms/base").json(), "id"), "kms-base-sim");
  EXPECT_EQ(StringAt(s.Api("GET", "/kms/kms-ethereum-sim").json(), "slug"), "ethereum");
  Reply none = s.Api("GET", "/kms/nope");
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(StringAt(none.json().at("detail"), "error_code"), "ERR-02-011");
}

TEST(Kms, PubkeyIsSignedByTheKmsKey) {
  FakeChain chain;
  SimInstance s(OnchainConfig(chain));
  Reply r = s.Api("GET", absl::StrCat("/kms/base/pubkey/0x", ChecksumAddress(kApp).substr(2)));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().as_object().size(), 2u);
  std::string pub = StringAt(r.json(), "public_key");
  std::string sig = StringAt(r.json(), "signature");
  EXPECT_EQ(pub.size(), 64u);
  EXPECT_EQ(sig.size(), 130u);
  // Same key for the same app, through the id, the slug or without 0x.
  EXPECT_EQ(StringAt(s.Api("GET", absl::StrCat("/kms/kms-base-sim/pubkey/", kApp)).json(), "public_key"), pub);
  std::string recovered = *RecoverEnvPubkeySigner(kApp, pub, sig);
  std::string signer;
  json::value kms_list = s.Admin("GET", "/kms").json();
  for (const json::value& k : kms_list.at("kms").as_array()) {
    if (StringAt(k, "id") == "kms-base-sim") signer = StringAt(k, "signer_public_key");
  }
  EXPECT_EQ(recovered, signer);
  EXPECT_EQ(s.Api("GET", "/kms/base/pubkey/xyz").status, 422);
  EXPECT_EQ(s.Api("GET", absl::StrCat("/kms/nope/pubkey/", kApp)).status, 404);
}

json::object ProvisionBody(const std::string& name, const std::string& kms) {
  return json::parse(absl::StrCat(R"({"name":")", name, R"(","instance_type":"tdx.small","kms":")", kms,
                                  R"(","compose_file":{"docker_compose_file":"services:\n  app:\n    image: nginx\n",)",
                                  R"("allowed_envs":["FOO","BAR"],"gateway_enabled":true,"name":""}})"))
      .as_object();
}

TEST(Provision, ValidationErrorsInFastApiShape) {
  SimInstance s(SimConfig{});
  Reply r = s.Api("POST", "/cvms/provision", R"({"compose_file":{"docker_compose_file":1}})");
  ASSERT_EQ(r.status, 422);
  json::array d = r.json().at("detail").as_array();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(StringAt(d[0], "type"), "missing");
  EXPECT_EQ(json::serialize(d[0].at("loc")), R"(["body","name"])");
  EXPECT_EQ(json::serialize(d[1].at("loc")), R"(["body","compose_file","docker_compose_file"])");
  Reply bad_json = s.Api("POST", "/cvms/provision", "{not json");
  EXPECT_EQ(bad_json.status, 422);
  EXPECT_EQ(StringAt(bad_json.json().at("detail").as_array()[0], "type"), "json_invalid");
  Reply no_compose = s.Api("POST", "/cvms/provision", R"({"name":"valid-name","compose_file":{}})");
  EXPECT_EQ(no_compose.status, 400);
  EXPECT_EQ(StringAt(no_compose.json().at("detail"), "error_code"), "ERR-01-002");
  json::object b = ProvisionBody("good-name", "BASE");  // no on-chain KMS configured
  Reply no_kms = s.Api("POST", "/cvms/provision", json::serialize(b));
  EXPECT_EQ(no_kms.status, 404);
  EXPECT_EQ(StringAt(no_kms.json().at("detail"), "error_code"), "ERR-02-011");
  b["kms"] = "PHALA";
  b["instance_type"] = "tdx.huge";
  EXPECT_EQ(StringAt(s.Api("POST", "/cvms/provision", json::serialize(b)).json().at("detail"), "error_code"),
            "ERR-02-001");
  b["instance_type"] = "tdx.small";
  b["teepod_id"] = 99;
  EXPECT_EQ(StringAt(s.Api("POST", "/cvms/provision", json::serialize(b)).json().at("detail"), "error_code"),
            "ERR-01-001");
}

TEST(PhalaFlow, ProvisionCommitReadUpdate) {
  SimInstance s(SimConfig{});
  Reply next = s.Api("GET", "/kms/phala/next_app_id?counts=2");
  ASSERT_EQ(next.status, 200);
  std::string predicted = StringAt(next.json().at("app_ids").as_array()[0], "app_id");
  json::object body = ProvisionBody("phala-app", "PHALA");
  body["env_keys"] = json::array{"FOO", "BAZ"};
  Reply p = s.Api("POST", "/cvms/provision", json::serialize(body));
  ASSERT_EQ(p.status, 200) << p.body;
  std::string app_id = StringAt(p.json(), "app_id");
  EXPECT_EQ(app_id, predicted);
  std::string pub = StringAt(p.json(), "app_env_encrypt_pubkey");
  std::string hash = StringAt(p.json(), "compose_hash");
  EXPECT_EQ(StringAt(p.json().at("kms_info"), "id"), "kms-phala-sim");
  EXPECT_EQ(p.json().at("teepod_id").as_int64(), 1);
  EXPECT_EQ(StringAt(p.json(), "device_id").size(), 64u);

  std::string enc = Encrypt(pub, {{"FOO", "bar"}, {"BAZ", "q=\"1\""}});
  json::object commit;
  commit["app_id"] = app_id;
  commit["compose_hash"] = hash;
  commit["encrypted_env"] = enc;
  commit["kms_id"] = "phala";
  Reply c = s.Api("POST", "/cvms", json::serialize(commit));
  ASSERT_EQ(c.status, 200) << c.body;
  for (const char* k : {"id", "name", "status", "teepod_id", "teepod", "user_id", "app_id", "vm_uuid", "instance_id",
                        "base_image", "vcpu", "memory", "disk_size", "docker_compose_file", "created_at"}) {
    EXPECT_TRUE(c.json().as_object().contains(k)) << k;
  }
  EXPECT_EQ(StringAt(c.json(), "encrypted_env_pubkey"), pub);
  std::string uuid = StringAt(c.json(), "vm_uuid");

  // Committing the same app again conflicts; so does a second provision with the same name.
  Reply again = s.Api("POST", "/cvms", json::serialize(commit));
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(StringAt(again.json().at("detail"), "error_code"), "ERR-03-007");
  EXPECT_EQ(StringAt(s.Api("POST", "/cvms/provision", json::serialize(body)).json().at("detail"), "error_code"),
            "ERR-01-004");

  // Reads by every id form.
  std::string hashed = absl::StrReplaceAll(uuid, {{"-", ""}});
  for (const std::string& ref :
       {hashed, uuid, "app_" + app_id, std::string("phala-app"), std::to_string(c.json().at("id").as_int64())}) {
    Reply info = s.Api("GET", "/cvms/" + ref);
    ASSERT_EQ(info.status, 200) << ref;
    EXPECT_EQ(StringAt(info.json(), "id"), hashed);
    EXPECT_EQ(StringAt(info.json(), "kms_type"), "phala");
    EXPECT_EQ(StringAt(info.json(), "compose_hash"), hash);
    EXPECT_TRUE(info.json().at("resource").is_object());
    EXPECT_TRUE(info.json().at("gateway").is_object());
  }
  Reply legacy = s.Api("GET", "/cvms/app_" + app_id, "", {{"X-Phala-Version", "2025-10-28"}});
  EXPECT_TRUE(legacy.json().at("id").is_int64());
  EXPECT_EQ(StringAt(legacy.json(), "encrypted_env_pubkey"), pub);
  Reply missing = s.Api("GET", "/cvms/app_" + std::string(40, 'e'));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(StringAt(missing.json().at("detail"), "error_code"), "ERR-03-001");

  // The compose file hashes (service form) to the CVM's compose hash; allowed_envs merged env_keys.
  Reply cf = s.Api("GET", "/cvms/" + hashed + "/compose_file");
  EXPECT_EQ(*cloudapi::ComposeHash(cf.json().as_object(), cloudapi::ComposeHashForm::kIndented), hash);
  EXPECT_EQ(json::serialize(cf.json().at("allowed_envs")), R"(["FOO","BAR","BAZ"])");
  EXPECT_EQ(StringAt(cf.json(), "name"), "phala-app");
  Reply yml = s.Api("GET", "/cvms/" + hashed + "/docker-compose.yml");
  EXPECT_EQ(yml.body, "services:\n  app:\n    image: nginx\n");
  EXPECT_EQ(yml.headers["content-type"], "text/yaml; charset=utf-8");

  // What arrived, decrypted, is visible to tests only through /_sim.
  Reply insp = s.Admin("GET", "/cvms/" + hashed);
  ASSERT_EQ(insp.status, 200);
  EXPECT_EQ(json::serialize(insp.json().at("env").at("values")), R"({"FOO":"bar","BAZ":"q=\"1\""})");
  EXPECT_TRUE(insp.json().at("env").at("decrypt_error").is_null());

  // Env update, same keys: applied at once.
  json::object upd;
  upd["encrypted_env"] = Encrypt(pub, {{"FOO", "v2"}});
  upd["env_keys"] = json::array{"BAZ", "FOO", "BAR"};
  Reply u = s.Api("PATCH", "/cvms/" + hashed + "/envs", json::serialize(upd));
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(StringAt(u.json(), "status"), "in_progress");
  EXPECT_FALSE(u.json().at("allowed_envs_changed").as_bool());
  EXPECT_EQ(StringAt(s.Admin("GET", "/cvms/" + hashed).json().at("env").at("values"), "FOO"), "v2");
  // Changed keys on a PHALA KMS: no on-chain step, applied with allowed_envs_changed.
  upd["env_keys"] = json::array{"FOO"};
  Reply u2 = s.Api("PATCH", "/cvms/" + hashed + "/envs", json::serialize(upd));
  ASSERT_EQ(u2.status, 200) << u2.body;
  EXPECT_TRUE(u2.json().at("allowed_envs_changed").as_bool());
  EXPECT_NE(StringAt(s.Api("GET", "/cvms/" + hashed).json(), "compose_hash"), hash);
  // Garbage ciphertext is accepted (the real service cannot read it either) and flagged.
  upd["encrypted_env"] = "00ff";
  EXPECT_EQ(s.Api("PATCH", "/cvms/" + hashed + "/envs", json::serialize(upd)).status, 200);
  EXPECT_FALSE(s.Admin("GET", "/cvms/" + hashed).json().at("env").at("decrypt_error").is_null());
  EXPECT_EQ(s.Api("PATCH", "/cvms/" + hashed + "/envs", "{}").status, 422);
}

struct OnchainCvm {
  std::string hashed, pub, hash;
};

OnchainCvm DeployOnchain(SimInstance& s, FakeChain& chain) {
  Reply p = s.Api("POST", "/cvms/provision", json::serialize(ProvisionBody("chain-app", "BASE")));
  EXPECT_EQ(p.status, 200) << p.body;
  EXPECT_TRUE(p.json().at("app_id").is_null());
  EXPECT_TRUE(p.json().at("app_env_encrypt_pubkey").is_null());
  EXPECT_EQ(StringAt(p.json().at("kms_info"), "kms_contract_address"), ChecksumAddress(kKms));
  std::string hash = StringAt(p.json(), "compose_hash");
  json::object commit;
  commit["app_id"] = ChecksumAddress(kApp);
  commit["compose_hash"] = hash;
  commit["kms_id"] = "base";
  commit["contract_address"] = ChecksumAddress(kApp);
  commit["deployer_address"] = ChecksumAddress(kDeployer);

  // Not registered with the factory yet.
  Reply r1 = s.Api("POST", "/cvms", json::serialize(commit));
  EXPECT_EQ(r1.status, 400) << r1.body;
  EXPECT_NE(StringAt(r1.json().at("detail"), "message").find("not registered"), std::string::npos);
  chain.RegisterApp(kKms, kApp, kDeployer);
  // Registered, but the compose hash is not allowed by the app.
  Reply r2 = s.Api("POST", "/cvms", json::serialize(commit));
  EXPECT_EQ(r2.status, 468) << r2.body;
  EXPECT_EQ(StringAt(r2.json().at("detail"), "error_code"), "ERR-01-008");
  chain.AllowHash(kApp, hash);
  // Wrong deployer, then a contract address that is not the app.
  commit["deployer_address"] = "0x" + std::string(40, '7');
  EXPECT_EQ(s.Api("POST", "/cvms", json::serialize(commit)).status, 400);
  commit["deployer_address"] = ChecksumAddress(kDeployer);
  commit["contract_address"] = "0x" + std::string(40, '7');
  EXPECT_EQ(s.Api("POST", "/cvms", json::serialize(commit)).status, 400);
  commit["contract_address"] = ChecksumAddress(kApp);

  std::string pub =
      StringAt(s.Api("GET", absl::StrCat("/kms/base/pubkey/", ChecksumAddress(kApp))).json(), "public_key");
  commit["encrypted_env"] = Encrypt(pub, {{"FOO", "1"}, {"BAR", "2"}});
  Reply ok = s.Api("POST", "/cvms", json::serialize(commit));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(StringAt(ok.json(), "app_id"), kApp);
  EXPECT_EQ(StringAt(ok.json(), "app_auth_contract_address"), ChecksumAddress(kApp));
  Reply conflict = s.Api("POST", "/cvms", json::serialize(commit));
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(StringAt(conflict.json().at("detail"), "error_code"), "ERR-03-007");
  return {absl::StrReplaceAll(StringAt(ok.json(), "vm_uuid"), {{"-", ""}}), pub, hash};
}

void ExpectPrecondition(const Reply& r, const std::string& expected_hash) {
  ASSERT_EQ(r.status, 465) << r.body;
  json::value d = r.json().at("detail");
  EXPECT_EQ(StringAt(d, "error_code"), "ERR-01-005");
  json::array details = d.at("details").as_array();
  ASSERT_GE(details.size(), 4u);
  EXPECT_EQ(StringAt(details[0], "field"), "compose_hash");
  if (!expected_hash.empty()) EXPECT_EQ(StringAt(details[0], "value"), expected_hash);
  EXPECT_EQ(StringAt(details[1], "field"), "app_id");
  EXPECT_EQ(StringAt(details[1], "value"), kApp);
  EXPECT_EQ(StringAt(details[2], "field"), "device_id");
  EXPECT_EQ(StringAt(details[3], "field"), "kms_info");
  EXPECT_EQ(details[3].at("value").as_object().size(), 7u);
}

TEST(OnchainFlow, CommitChecksAndEnvTwoPhase) {
  FakeChain chain;
  SimInstance s(OnchainConfig(chain));
  OnchainCvm cvm = DeployOnchain(s, chain);
  Reply insp = s.Admin("GET", "/cvms/" + cvm.hashed);
  EXPECT_EQ(json::serialize(insp.json().at("env").at("values")), R"({"FOO":"1","BAR":"2"})");
  Reply info = s.Api("GET", "/cvms/" + cvm.hashed);
  EXPECT_EQ(StringAt(info.json(), "kms_type"), "base");
  EXPECT_EQ(StringAt(info.json().at("kms_info"), "dstack_app_address"), ChecksumAddress(kApp));
  EXPECT_EQ(info.json().at("kms_info").at("chain_id").as_int64(), 31337);

  // Same keys: one call.
  json::object upd;
  upd["encrypted_env"] = Encrypt(cvm.pub, {{"FOO", "x"}});
  upd["env_keys"] = json::array{"FOO", "BAR"};
  Reply same = s.Api("PATCH", "/cvms/app_" + std::string(kApp) + "/envs", json::serialize(upd));
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_FALSE(same.json().at("allowed_envs_changed").as_bool());

  // Changed keys: 465 with the new hash, until a mined ComposeHashAdded from the app proves it.
  upd["encrypted_env"] = Encrypt(cvm.pub, {{"NEW", "n"}});
  upd["env_keys"] = json::array{"FOO", "BAR", "NEW"};
  Reply pre = s.Api("PATCH", "/cvms/" + cvm.hashed + "/envs", json::serialize(upd));
  ExpectPrecondition(pre, "");
  std::string new_hash = StringAt(pre.json().at("detail").at("details").as_array()[0], "value");
  EXPECT_NE(new_hash, cvm.hash);

  const std::string tx_ok(64, 'a'), tx_reverted(64, 'b'), tx_other(64, 'c'), tx_missing(64, 'd');
  chain.AddComposeHashTx(tx_reverted, kApp, new_hash, false);
  chain.AddComposeHashTx(tx_other, std::string(40, '9'), new_hash);
  upd["compose_hash"] = new_hash;
  for (const std::string& tx : {tx_missing, tx_reverted, tx_other, std::string("0x1234")}) {
    upd["transaction_hash"] = "0x" + tx;
    Reply bad = s.Api("PATCH", "/cvms/" + cvm.hashed + "/envs", json::serialize(upd));
    EXPECT_EQ(bad.status, 467) << tx << " " << bad.body;
    EXPECT_EQ(StringAt(bad.json().at("detail"), "error_code"), "ERR-01-007");
  }
  chain.AddComposeHashTx(tx_ok, kApp, new_hash);
  upd["compose_hash"] = cvm.hash;  // a hash that does not match the change
  upd["transaction_hash"] = "0x" + tx_ok;
  Reply wrong = s.Api("PATCH", "/cvms/" + cvm.hashed + "/envs", json::serialize(upd));
  EXPECT_EQ(wrong.status, 466);
  EXPECT_EQ(StringAt(wrong.json().at("detail"), "error_code"), "ERR-01-006");
  upd["compose_hash"] = new_hash;
  Reply not_allowed = s.Api("PATCH", "/cvms/" + cvm.hashed + "/envs", json::serialize(upd));
  EXPECT_EQ(not_allowed.status, 468);  // mined event, but the app does not allow it (removed since)
  chain.AllowHash(kApp, new_hash);
  Reply ok = s.Api("PATCH", "/cvms/" + cvm.hashed + "/envs", json::serialize(upd));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(ok.json().at("allowed_envs_changed").as_bool());
  EXPECT_EQ(StringAt(s.Api("GET", "/cvms/" + cvm.hashed).json(), "compose_hash"), new_hash);
  insp = s.Admin("GET", "/cvms/" + cvm.hashed);
  EXPECT_EQ(json::serialize(insp.json().at("env").at("values")), R"({"NEW":"n"})");
  json::array history = insp.json().at("compose_history").as_array();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(StringAt(history[1], "transaction_hash"), "0x" + tx_ok);
}

TEST(OnchainFlow, DockerComposeAndComposeFileAndPatch) {
  FakeChain chain;
  SimInstance s(OnchainConfig(chain));
  OnchainCvm cvm = DeployOnchain(s, chain);
  const std::string yaml = "services:\n  app:\n    image: nginx:1.27\n";
  std::map<std::string, std::string> yh = {{"Content-Type", "text/yaml"}};
  Reply pre = s.Api("PATCH", "/cvms/" + cvm.hashed + "/docker-compose", yaml, yh);
  ExpectPrecondition(pre, "");
  std::string h = StringAt(pre.json().at("detail").at("details").as_array()[0], "value");
  yh["X-Compose-Hash"] = h;
  yh["X-Transaction-Hash"] = "0x" + std::string(64, 'e');
  EXPECT_EQ(s.Api("PATCH", "/cvms/" + cvm.hashed + "/docker-compose", yaml, yh).status, 467);
  chain.AddComposeHashTx(std::string(64, 'e'), kApp, h);
  chain.AllowHash(kApp, h);
  Reply ok = s.Api("PATCH", "/cvms/" + cvm.hashed + "/docker-compose", yaml, yh);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_FALSE(ok.json().as_object().contains("allowed_envs_changed"));
  EXPECT_EQ(s.Api("GET", "/cvms/" + cvm.hashed + "/docker-compose.yml").body, yaml);
  // The same compose again changes nothing: accepted without a proof.
  EXPECT_EQ(s.Api("PATCH", "/cvms/" + cvm.hashed + "/docker-compose", yaml, {{"Content-Type", "text/yaml"}}).status,
            200);
  EXPECT_EQ(s.Api("PATCH", "/cvms/" + cvm.hashed + "/docker-compose", "", {{"Content-Type", "text/yaml"}}).status, 422);

  // Compose-file API: provision says whether the hash is registered; commit checks on chain.
  json::object compose = s.Api("GET", "/cvms/" + cvm.hashed + "/compose_file").json().as_object();
  compose["public_logs"] = false;
  compose["update_env_vars"] = false;
  Reply prov = s.Api("POST", "/cvms/" + cvm.hashed + "/compose_file/provision", json::serialize(compose));
  ASSERT_EQ(prov.status, 200) << prov.body;
  std::string ch = StringAt(prov.json(), "compose_hash");
  EXPECT_FALSE(prov.json().at("compose_hash_registered").as_bool());
  EXPECT_EQ(StringAt(prov.json(), "app_id"), kApp);
  json::object commit;
  commit["compose_hash"] = ch;
  Reply no = s.Api("PATCH", "/cvms/" + cvm.hashed + "/compose_file", json::serialize(commit));
  EXPECT_EQ(no.status, 468);
  chain.AllowHash(kApp, ch);
  EXPECT_TRUE(s.Api("POST", "/cvms/" + cvm.hashed + "/compose_file/provision", json::serialize(compose))
                  .json()
                  .at("compose_hash_registered")
                  .as_bool());
  commit["encrypted_env"] = Encrypt(cvm.pub, {{"FOO", "cf"}});
  Reply yes = s.Api("PATCH", "/cvms/" + cvm.hashed + "/compose_file", json::serialize(commit));
  ASSERT_EQ(yes.status, 200) << yes.body;
  EXPECT_FALSE(s.Api("GET", "/cvms/" + cvm.hashed).json().at("public_logs").as_bool());
  EXPECT_EQ(StringAt(s.Admin("GET", "/cvms/" + cvm.hashed).json().at("env").at("values"), "FOO"), "cf");
  commit["compose_hash"] = std::string(64, '0');
  EXPECT_EQ(s.Api("PATCH", "/cvms/" + cvm.hashed + "/compose_file", json::serialize(commit)).status, 466);

  // patchCvm: 465 with a commit token, then commit-update with the proof.
  Reply pp = s.Api("PATCH", "/cvms/" + cvm.hashed, R"({"docker_compose_file":"services: {}\n"})",
                   {{"X-Prepare-Only", "true"}});
  ExpectPrecondition(pp, "");
  std::string token, ph;
  json::value pp_body = pp.json();
  for (const json::value& d : pp_body.at("detail").at("details").as_array()) {
    if (StringAt(d, "field") == "commit_token") token = StringAt(d, "value");
    if (StringAt(d, "field") == "compose_hash") ph = StringAt(d, "value");
    if (StringAt(d, "field") == "onchain_status") EXPECT_FALSE(d.at("value").at("is_allowed").as_bool());
  }
  ASSERT_FALSE(token.empty());
  chain.AddComposeHashTx(std::string(64, 'f'), kApp, ph);
  chain.AllowHash(kApp, ph);
  json::object cu;
  cu["token"] = token;
  cu["compose_hash"] = ph;
  cu["transaction_hash"] = "0x" + std::string(64, 'f');
  Reply done = s.Api("POST", "/cvms/" + cvm.hashed + "/commit-update", json::serialize(cu));
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(StringAt(done.json(), "status"), "in_progress");
  EXPECT_EQ(StringAt(s.Api("GET", "/cvms/" + cvm.hashed).json(), "compose_hash"), ph);
  // confirmCvmPatch: body {} with the proof in headers.
  Reply pp2 = s.Api("PATCH", "/cvms/" + cvm.hashed, R"({"pre_launch_script":"echo hi"})");
  ExpectPrecondition(pp2, "");
  std::string ph2 = StringAt(pp2.json().at("detail").at("details").as_array()[0], "value");
  chain.AddComposeHashTx(std::string(63, 'f') + "1", kApp, ph2);
  chain.AllowHash(kApp, ph2);
  Reply conf = s.Api("PATCH", "/cvms/" + cvm.hashed, "{}",
                     {{"X-Compose-Hash", ph2}, {"X-Transaction-Hash", "0x" + std::string(63, 'f') + "1"}});
  ASSERT_EQ(conf.status, 200) << conf.body;
  EXPECT_TRUE(conf.json().as_object().contains("correlation_id"));
  EXPECT_EQ(s.Api("GET", "/cvms/" + cvm.hashed + "/pre-launch-script").body, "echo hi");
}

TEST(OnchainFlow, ChainDownIsA503) {
  SimConfig c;
  c.rpc_url = "http://127.0.0.1:1";  // nothing listens there
  c.kms_contract = std::string("0x") + kKms;
  c.rpc_timeout = absl::Seconds(2);
  SimInstance s(c);
  Reply p = s.Api("POST", "/cvms/provision", json::serialize(ProvisionBody("down-app", "ETHEREUM")));
  ASSERT_EQ(p.status, 200);
  json::object commit;
  commit["app_id"] = kApp;
  commit["compose_hash"] = StringAt(p.json(), "compose_hash");
  Reply r = s.Api("POST", "/cvms", json::serialize(commit));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(StringAt(r.json(), "detail").find("Blockchain RPC unavailable"), std::string::npos);
}

TEST(RequestLog, RecordsWhatArrivedButNeverTheKey) {
  SimInstance s(SimConfig{});
  json::object body = ProvisionBody("logged-app", "PHALA");
  ASSERT_EQ(s.Api("POST", "/cvms/provision", json::serialize(body), {{"X-Phala-Version", "2026-01-21"}}).status, 200);
  s.Api("GET", "/auth/me", "", {{"X-API-Key", "some-wrong-key"}});
  Reply log = s.Admin("GET", "/requests");
  ASSERT_EQ(log.status, 200);
  json::array reqs = log.json().at("requests").as_array();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(StringAt(reqs[0], "method"), "POST");
  EXPECT_EQ(StringAt(reqs[0], "path"), "/api/v1/cvms/provision");
  EXPECT_EQ(reqs[0].at("status").as_int64(), 200);
  EXPECT_EQ(StringAt(reqs[0], "auth"), "valid");
  EXPECT_EQ(StringAt(reqs[0].at("headers"), "x-phala-version"), "2026-01-21");
  EXPECT_EQ(StringAt(reqs[0].at("body"), "name"), "logged-app");
  EXPECT_EQ(StringAt(reqs[1], "auth"), "invalid");
  EXPECT_EQ(log.body.find(SimInstance::kApiKey), std::string::npos);
  EXPECT_EQ(log.body.find("some-wrong-key"), std::string::npos);
  int64_t last = reqs[1].at("seq").as_int64();
  EXPECT_TRUE(s.Admin("GET", absl::StrCat("/requests?since=", last)).json().at("requests").as_array().empty());
  EXPECT_EQ(s.Admin("GET", "/requests?path_prefix=/api/v1/auth").json().at("requests").as_array().size(), 1u);
  s.Admin("DELETE", "/requests");
  EXPECT_TRUE(s.Admin("GET", "/requests").json().at("requests").as_array().empty());
}

}  // namespace
}  // namespace cloudsim
