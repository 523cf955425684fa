// CVM boots (boot.h), the paged CVM list and the node listing, over real HTTP against the
// in-process simulator (PHALA KMS: no chain needed).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "cloudapi/env_encryption.h"
#include "test/cloudsim/simulator.h"
#include "test/cloudsim/test_util.h"

namespace cloudsim {
namespace {

namespace json = boost::json;
using testing::Reply;
using testing::SimInstance;
using testing::StringAt;

struct Deployed {
  std::string id;    // the API's CVM id
  std::string pub;   // env-encryption key
  std::string hash;  // compose hash
};

Deployed DeployPhala(SimInstance& s, const std::string& name, int64_t node = 0) {
  json::object body =
      json::parse(absl::StrCat(R"({"name":")", name, R"(","instance_type":"tdx.small","kms":"PHALA",)",
                               R"("compose_file":{"docker_compose_file":"services:\n  app:\n    image: nginx\n",)",
                               R"("allowed_envs":["FOO"],"name":""}})"))
          .as_object();
  if (node != 0) body["teepod_id"] = node;
  Reply p = s.Api("POST", "/cvms/provision", json::serialize(body));
  EXPECT_EQ(p.status, 200) << p.body;
  json::object commit;
  commit["app_id"] = StringAt(p.json(), "app_id");
  commit["compose_hash"] = StringAt(p.json(), "compose_hash");
  commit["encrypted_env"] = *cloudapi::EncryptEnvVars({{"FOO", "1"}}, StringAt(p.json(), "app_env_encrypt_pubkey"));
  commit["kms_id"] = "phala";
  Reply c = s.Api("POST", "/cvms", json::serialize(commit));
  EXPECT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(StringAt(c.json(), "status"), "starting");
  std::string uuid = StringAt(c.json(), "vm_uuid");
  uuid.erase(std::remove(uuid.begin(), uuid.end(), '-'), uuid.end());
  return {uuid, StringAt(p.json(), "app_env_encrypt_pubkey"), StringAt(p.json(), "compose_hash")};
}

// GET /cvms/{id}: {status, compose_hash}.
std::pair<std::string, std::string> Read(SimInstance& s, const std::string& id) {
  Reply r = s.Api("GET", "/cvms/" + id);
  EXPECT_EQ(r.status, 200) << r.body;
  return {StringAt(r.json(), "status"), StringAt(r.json(), "compose_hash")};
}

void SetBoot(SimInstance& s, const std::string& rules) {
  Reply r = s.Admin("POST", "/boot", rules);
  ASSERT_EQ(r.status, 200) << r.body;
}

TEST(Boot, WithoutRulesTheFirstReadIsRunning) {
  SimInstance s(SimConfig{});
  Deployed d = DeployPhala(s, "plain-app");
  EXPECT_EQ(Read(s, d.id), std::make_pair(std::string("running"), d.hash));
}

TEST(Boot, StartingForTheConfiguredPollsThenRunning) {
  SimInstance s(SimConfig{});
  SetBoot(s, R"({"boot_polls":2})");
  Deployed d = DeployPhala(s, "polled-app");
  Reply first = s.Api("GET", "/cvms/" + d.id);
  EXPECT_EQ(StringAt(first.json(), "status"), "starting");
  EXPECT_EQ(StringAt(first.json().at("progress"), "target"), "running");
  EXPECT_EQ(StringAt(first.json(), "compose_hash"), d.hash);
  // A listing is no poll.
  Reply list = s.Api("GET", "/cvms/paginated");
  EXPECT_EQ(StringAt(list.json().at("items").as_array()[0], "status"), "starting");
  EXPECT_EQ(Read(s, d.id).first, "starting");
  EXPECT_EQ(Read(s, d.id), std::make_pair(std::string("running"), d.hash));
  EXPECT_TRUE(s.Api("GET", "/cvms/" + d.id).json().at("progress").at("target").is_null());
}

TEST(Boot, HoldKeepsTheCvmStartingUntilReleased) {
  SimInstance s(SimConfig{});
  SetBoot(s, R"({"hold":true})");
  Deployed d = DeployPhala(s, "held-app");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Read(s, d.id).first, "starting");
  SetBoot(s, R"({"hold":false})");
  EXPECT_EQ(Read(s, d.id).first, "running");

  // An update restarts it: the old hash is reported until the boot ends.
  SetBoot(s, R"({"hold":true})");
  json::object upd;
  upd["encrypted_env"] = *cloudapi::EncryptEnvVars({{"BAR", "2"}}, d.pub);
  upd["env_keys"] = json::array{"BAR"};
  Reply u = s.Api("PATCH", "/cvms/" + d.id + "/envs", json::serialize(upd));
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(Read(s, d.id), std::make_pair(std::string("restarting"), d.hash));
  SetBoot(s, R"({"hold":false})");
  std::pair<std::string, std::string> after = Read(s, d.id);
  EXPECT_EQ(after.first, "running");
  EXPECT_NE(after.second, d.hash);
  EXPECT_EQ(after.second, StringAt(s.Admin("GET", "/cvms/" + d.id).json().at("cvm"), "compose_hash"));
}

TEST(Boot, EndStatusFailsTheBootAndBadRulesAreRefused) {
  SimInstance s(SimConfig{});
  SetBoot(s, R"({"end_status":"error","boot_polls":1})");
  Deployed d = DeployPhala(s, "failing-app");
  EXPECT_EQ(Read(s, d.id).first, "starting");
  EXPECT_EQ(Read(s, d.id).first, "error");
  EXPECT_EQ(Read(s, d.id).first, "error");
  EXPECT_EQ(s.Admin("POST", "/boot", R"({"boot_polls":-1})").status, 400);
  EXPECT_EQ(s.Admin("POST", "/boot", R"({"hold":"yes"})").status, 400);
  EXPECT_EQ(s.Admin("POST", "/boot", R"({"later":1})").status, 400);
  EXPECT_EQ(s.Admin("POST", "/boot", "not json").status, 400);
  EXPECT_EQ(s.Admin("GET", "/boot").body, R"({"boot_polls":1,"hold":false,"end_status":"error"})");
}

TEST(Boot, RulesSurviveARestart) {
  std::string db = testing::TempPath("boot-restart.sqlite");
  {
    SimInstance s(SimConfig{}, db);
    SetBoot(s, R"({"hold":true})");
  }
  SimInstance s(SimConfig{}, db);
  EXPECT_EQ(s.Admin("GET", "/boot").body, R"({"boot_polls":0,"hold":true,"end_status":"running"})");
}

TEST(Listings, CvmsArePagedAndFilteredByNode) {
  SimInstance s(SimConfig{});
  Deployed a = DeployPhala(s, "list-app-a");
  Deployed b = DeployPhala(s, "list-app-b", 2);
  Deployed c = DeployPhala(s, "list-app-c");
  Reply all = s.Api("GET", "/cvms/paginated");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.json().at("total").as_int64(), 3);
  EXPECT_EQ(all.json().at("page").as_int64(), 1);
  EXPECT_EQ(all.json().at("page_size").as_int64(), 20);
  EXPECT_EQ(all.json().at("pages").as_int64(), 1);
  json::array items = all.json().at("items").as_array();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(StringAt(items[0], "id"), a.id);
  EXPECT_FALSE(items[0].as_object().contains("compose_file"));
  EXPECT_EQ(StringAt(items[1], "compose_hash"), b.hash);

  Reply second = s.Api("GET", "/cvms/paginated?page=2&page_size=2");
  EXPECT_EQ(second.json().at("pages").as_int64(), 2);
  ASSERT_EQ(second.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(StringAt(second.json().at("items").as_array()[0], "id"), c.id);
  EXPECT_TRUE(s.Api("GET", "/cvms/paginated?page=9").json().at("items").as_array().empty());

  Reply on2 = s.Api("GET", "/cvms/paginated?node_id=2");
  ASSERT_EQ(on2.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(StringAt(on2.json().at("items").as_array()[0], "id"), b.id);
  EXPECT_EQ(on2.json().at("items").as_array()[0].at("node_info").at("id").as_int64(), 2);

  EXPECT_EQ(s.Api("GET", "/cvms/paginated?page=0").status, 422);
  EXPECT_EQ(s.Api("GET", "/cvms/paginated?page_size=101").status, 422);
  EXPECT_EQ(s.Api("GET", "/cvms/paginated?node_id=x").status, 422);
}

TEST(Listings, NodesWithTheirDeviceIds) {
  SimInstance s(SimConfig{});
  Reply r = s.Api("GET", "/teepods/available");
  ASSERT_EQ(r.status, 200) << r.body;
  json::array nodes = r.json().at("nodes").as_array();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].at("teepod_id").as_int64(), 1);
  EXPECT_EQ(nodes[1].at("teepod_id").as_int64(), 2);
  EXPECT_EQ(StringAt(nodes[1], "name"), "sim-node-2");
  std::string dev1 = StringAt(nodes[0], "device_id");
  std::string dev2 = StringAt(nodes[1], "device_id");
  EXPECT_EQ(dev1.size(), 64u);
  EXPECT_NE(dev1, dev2);
  // The same device ids as provision and the CVM's node_info report.
  Deployed d = DeployPhala(s, "node2-app", 2);
  Reply info = s.Api("GET", "/cvms/" + d.id);
  EXPECT_EQ(StringAt(info.json().at("node_info"), "device_id"), dev2);
  EXPECT_EQ(StringAt(info.json().at("node_info"), "name"), "sim-node-2");
  EXPECT_TRUE(r.json().at("kms_list").is_array());
  EXPECT_TRUE(r.json().at("capacity").is_object());
  EXPECT_EQ(StringAt(r.json(), "tier"), "pro");
}

}  // namespace
}  // namespace cloudsim
