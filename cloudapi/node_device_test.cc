// ListCvms, GetAvailableNodes and the node -> device id lookup over real HTTP against the
// in-process simulator (PHALA KMS), plus GetCvmInfo's status and compose hash through a boot.
#include "cloudapi/node_device.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cloudapi/cloud_client.h"
#include "cloudapi/env_encryption.h"
#include "cloudapi/wire.h"
#include "test/cloudsim/test_util.h"

namespace cloudapi {
namespace {

namespace json = boost::json;
using cloudsim::SimConfig;
using cloudsim::testing::SimInstance;

std::unique_ptr<CloudClient> Client(SimInstance& s) {
  CloudClientOptions o;
  o.base_url = absl::StrCat("http://127.0.0.1:", s.port(), "/api/v1");
  o.api_key = *ApiKey::FromString(SimInstance::kApiKey);
  o.retry.initial_backoff = absl::Milliseconds(10);
  return std::move(*CloudClient::Create(std::move(o)));
}

// Provision + commit on the PHALA KMS; returns the commit's vm_uuid and the compose hash.
std::pair<std::string, chain::Hash32> Deploy(CloudClient& client, const std::string& name, int64_t node) {
  ProvisionCvmRequest r;
  r.name = name;
  r.kms = "PHALA";
  r.node_id = node;
  r.compose_file.docker_compose_file = "services:\n  app:\n    image: nginx\n";
  absl::StatusOr<ProvisionCvmResponse> p = client.ProvisionCvm(r);
  EXPECT_TRUE(p.ok()) << p.status();
  CommitCvmProvisionRequest c;
  c.app_id = *p->app_id;
  c.compose_hash = p->compose_hash;
  c.encrypted_env = *EncryptEnvVars({}, *p->app_env_encrypt_pubkey);
  c.kms_id = "phala";
  absl::StatusOr<CommitCvmProvisionResponse> done = client.CommitCvmProvision(c);
  EXPECT_TRUE(done.ok()) << done.status();
  return {*done->vm_uuid, p->compose_hash};
}

TEST(NodeDevice, NodesAndTheirDeviceIds) {
  SimInstance s(SimConfig{});
  std::unique_ptr<CloudClient> client = Client(s);
  absl::StatusOr<AvailableNodes> nodes = client->GetAvailableNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->nodes.size(), 2u);
  EXPECT_EQ(nodes->nodes[1].id, 2);
  EXPECT_EQ(nodes->nodes[1].name, "sim-node-2");
  EXPECT_EQ(nodes->nodes[1].region, "sim-local");
  ASSERT_TRUE(nodes->nodes[1].device_id.has_value());

  // The lookup agrees with the raw listing and with the CVM's node_info.
  json::array raw = s.Api("GET", "/teepods/available").json().at("nodes").as_array();
  absl::StatusOr<chain::Hash32> dev2 = LookUpNodeDeviceId(*client, 2);
  ASSERT_TRUE(dev2.ok()) << dev2.status();
  EXPECT_EQ(wire::HexOf(*dev2), std::string(raw[1].at("device_id").as_string()));
  auto [uuid, hash] = Deploy(*client, "on-node-two", 2);
  absl::StatusOr<CvmInfo> info = client->GetCvmInfo(*CvmRef::Uuid(uuid));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->node_id, 2);
  EXPECT_EQ(info->device_id, *dev2);

  absl::Status missing = LookUpNodeDeviceId(*client, 7).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_TRUE(absl::StartsWith(missing.message(), "node_id: no node 7")) << missing;
  AvailableNodes without;
  without.nodes.push_back(NodeInfo{.id = 3, .name = "bare"});
  EXPECT_EQ(DeviceIdOfNode(without, 3).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(NodeDevice, CvmListPagesAndStatusThroughABoot) {
  SimInstance s(SimConfig{});
  std::unique_ptr<CloudClient> client = Client(s);
  ASSERT_EQ(s.Admin("POST", "/boot", R"({"boot_polls":1})").status, 200);
  auto [a, hash_a] = Deploy(*client, "listed-app-a", 1);
  auto [b, hash_b] = Deploy(*client, "listed-app-b", 2);
  absl::StatusOr<CvmInfo> first = client->GetCvmInfo(*CvmRef::Uuid(a));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->status, "starting");
  absl::StatusOr<CvmInfo> second = client->GetCvmInfo(*CvmRef::Uuid(a));
  EXPECT_EQ(second->status, "running");
  EXPECT_EQ(second->compose_hash, hash_a);

  ListCvmsRequest page;
  page.page = 2;
  page.page_size = 1;
  absl::StatusOr<CvmList> list = client->ListCvms(page);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->total, 2);
  EXPECT_EQ(list->pages, 2);
  EXPECT_EQ(list->page, 2);
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].name, "listed-app-b");
  EXPECT_EQ(list->items[0].status, "starting");  // never polled
  EXPECT_EQ(list->items[0].compose_hash, hash_b);
  EXPECT_EQ(list->items[0].node_id, 2);
  EXPECT_EQ(s.Admin("GET", "/requests?path_prefix=/api/v1/cvms/paginated")
                .json()
                .at("requests")
                .as_array()[0]
                .at("query")
                .as_string(),
            "page=2&page_size=1");

  ListCvmsRequest bad;
  bad.page = 0;
  absl::Status refused = client->ListCvms(bad).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.message(), "list cvms: page must be at least 1");
}

}  // namespace
}  // namespace cloudapi
