// Stop the simulator and start it again on the same SQLite file: KMS signing keys, app key pairs,
// CVMs, open provisions, pending two-phase updates, the PHALA app-id counter, the decrypted env
// records and the request log are all still there.
#include <gtest/gtest.h>

#include <string>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "cloudapi/env_encryption.h"
#include "test/cloudsim/test_util.h"

namespace cloudsim {
namespace {

namespace json = boost::json;
using testing::FakeChain;
using testing::Reply;
using testing::SimInstance;
using testing::StringAt;

json::object Provision(const std::string& name, const std::string& kms) {
  return json::parse(absl::StrCat(R"({"name":")", name, R"(","kms":")", kms,
                                  R"(","compose_file":{"docker_compose_file":"services: {}\n","allowed_envs":["A"]}})"))
      .as_object();
}

TEST(Persistence, StateSurvivesARestart) {
  FakeChain chain;
  SimConfig config;
  config.rpc_url = chain.url();
  config.kms_contract = testing::kKms;
  const std::string db = testing::TempPath("persist.sqlite");

  std::string signer, pub, phala_app, open_hash, open_app, open_pub, pending_hash, hashed;
  {
    SimInstance s(config, db);
    json::value kms = s.Admin("GET", "/kms").json();
    for (const json::value& k : kms.at("kms").as_array()) {
      if (StringAt(k, "slug") == "base") signer = StringAt(k, "signer_public_key");
    }
    // A committed PHALA CVM with an env.
    Reply p = s.Api("POST", "/cvms/provision", json::serialize(Provision("phala-one", "PHALA")));
    ASSERT_EQ(p.status, 200);
    phala_app = StringAt(p.json(), "app_id");
    json::object commit;
    commit["app_id"] = phala_app;
    commit["compose_hash"] = StringAt(p.json(), "compose_hash");
    commit["encrypted_env"] = *cloudapi::EncryptEnvVars({{"A", "1"}}, StringAt(p.json(), "app_env_encrypt_pubkey"));
    ASSERT_EQ(s.Api("POST", "/cvms", json::serialize(commit)).status, 200);
    // An on-chain CVM with a pending (465) env change.
    Reply p2 = s.Api("POST", "/cvms/provision", json::serialize(Provision("chain-one", "BASE")));
    std::string h2 = StringAt(p2.json(), "compose_hash");
    chain.RegisterApp(testing::kKms, testing::kApp, testing::kDeployer);
    chain.AllowHash(testing::kApp, h2);
    pub = StringAt(s.Api("GET", absl::StrCat("/kms/base/pubkey/", testing::kApp)).json(), "public_key");
    commit = {};
    commit["app_id"] = testing::kApp;
    commit["compose_hash"] = h2;
    Reply c2 = s.Api("POST", "/cvms", json::serialize(commit));
    ASSERT_EQ(c2.status, 200) << c2.body;
    hashed = absl::StrReplaceAll(StringAt(c2.json(), "vm_uuid"), {{"-", ""}});
    json::object upd;
    upd["encrypted_env"] = *cloudapi::EncryptEnvVars({{"B", "2"}}, pub);
    upd["env_keys"] = json::array{"A", "B"};
    Reply pre = s.Api("PATCH", "/cvms/" + hashed + "/envs", json::serialize(upd));
    ASSERT_EQ(pre.status, 465);
    pending_hash = StringAt(pre.json().at("detail").at("details").as_array()[0], "value");
    // A provision left open.
    Reply open = s.Api("POST", "/cvms/provision", json::serialize(Provision("open-one", "PHALA")));
    open_hash = StringAt(open.json(), "compose_hash");
    open_app = StringAt(open.json(), "app_id");
    open_pub = StringAt(open.json(), "app_env_encrypt_pubkey");
    s.Stop();
  }
  SimInstance s(config, db);
  std::string signer_after;
  json::value kms = s.Admin("GET", "/kms").json();
  for (const json::value& k : kms.at("kms").as_array()) {
    if (StringAt(k, "slug") == "base") signer_after = StringAt(k, "signer_public_key");
  }
  EXPECT_EQ(signer_after, signer);
  EXPECT_EQ(StringAt(s.Api("GET", absl::StrCat("/kms/base/pubkey/", testing::kApp)).json(), "public_key"), pub);
  Reply info = s.Api("GET", "/cvms/app_" + phala_app);
  ASSERT_EQ(info.status, 200);
  EXPECT_EQ(StringAt(s.Admin("GET", "/cvms/phala-one").json().at("env").at("values"), "A"), "1");
  EXPECT_EQ(s.Admin("GET", "/cvms/" + hashed).json().at("pending_updates").as_array().size(), 1u);
  // The pending change completes after the restart.
  chain.AddComposeHashTx(std::string(64, '1'), testing::kApp, pending_hash);
  chain.AllowHash(testing::kApp, pending_hash);
  json::object upd;
  upd["encrypted_env"] = *cloudapi::EncryptEnvVars({{"B", "2"}}, pub);
  upd["env_keys"] = json::array{"A", "B"};
  upd["compose_hash"] = pending_hash;
  upd["transaction_hash"] = "0x" + std::string(64, '1');
  Reply ok = s.Api("PATCH", "/cvms/" + hashed + "/envs", json::serialize(upd));
  EXPECT_EQ(ok.status, 200) << ok.body;
  // The open provision can still be committed, to the same app key; the PHALA counter moved on.
  json::object late;
  late["app_id"] = open_app;
  late["compose_hash"] = open_hash;
  late["encrypted_env"] = *cloudapi::EncryptEnvVars({{"A", "late"}}, open_pub);
  ASSERT_EQ(s.Api("POST", "/cvms", json::serialize(late)).status, 200);
  EXPECT_EQ(StringAt(s.Admin("GET", "/cvms/open-one").json().at("env").at("values"), "A"), "late");
  Reply next = s.Api("GET", "/kms/phala/next_app_id");
  EXPECT_NE(StringAt(next.json().at("app_ids").as_array()[0], "app_id"), phala_app);
  EXPECT_EQ(next.json().at("app_ids").as_array()[0].at("nonce").as_int64(), 2);
  // Old requests are still in the log.
  EXPECT_GE(s.Admin("GET", "/requests").json().at("requests").as_array().size(), 8u);
  // A second CVM name clash survives too.
  EXPECT_EQ(s.Api("POST", "/cvms/provision", json::serialize(Provision("phala-one", "PHALA"))).status, 409);
}

}  // namespace
}  // namespace cloudsim
