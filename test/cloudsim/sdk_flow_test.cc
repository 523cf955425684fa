// The real @phala/cloud SDK (0.2.9) against the cloudsim binary and a private anvil with the
// test DstackKms/DstackApp contracts (//test/anvil:harness): sdk_flow.js runs the seed's flows and
// checks, through /_sim, that the env values the simulator decrypted are the ones the SDK sent.
// Then the binary is stopped with SIGTERM (graceful, exit 0) and restarted on the same database.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <string>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "test/anvil/harness.h"
#include "test/cloudsim/test_util.h"
#include "test/support/node_tools.h"

namespace cloudsim {
namespace {

namespace json = boost::json;
using testing::HttpClient;
using testing::Runfile;
using testing::SimProcess;
using testing::TempPath;

constexpr char kApiKey[] = "phak_sdk_flow_key";

std::vector<std::string> SimArgs(const anvil::DevChain& c, const std::string& db) {
  return {"--db=" + db,
          "--port=0",
          "--rpc_url=" + c.rpc_url,
          "--chain_id=" + std::to_string(c.chain_id),
          "--kms_contract=" + c.kms_address,
          "--api_keys=" + std::string(kApiKey),
          "--gateway_app_id=0x" + std::string(40, '6')};
}

TEST(SdkFlow, RealSdkAgainstSimulatorAndAnvil) {
  absl::StatusOr<std::unique_ptr<anvil::Anvil>> a = anvil::Anvil::Start({.chain_id = 31337});
  ASSERT_TRUE(a.ok()) << a.status();
  const anvil::DevChain& chain = (*a)->chain();
  absl::StatusOr<std::string> nm = testsupport::NodeModulesDir();
  ASSERT_TRUE(nm.ok()) << nm.status();

  const std::string db = TempPath("sdk_flow.sqlite");
  const std::string log = TempPath("cloudsim.log");
  const std::string binary = Runfile("test/cloudsim/cloudsim");
  absl::StatusOr<std::unique_ptr<SimProcess>> sim = SimProcess::Start(binary, SimArgs(chain, db), log);
  ASSERT_TRUE(sim.ok()) << sim.status();

  setenv("SIM_BASE_URL", (*sim)->base_url().c_str(), 1);
  setenv("SIM_ADMIN_URL", (*sim)->admin_url().c_str(), 1);
  setenv("RPC_URL", chain.rpc_url.c_str(), 1);
  setenv("API_KEY", kApiKey, 1);
  setenv("PRIVATE_KEY", chain.deployer_private_key.c_str(), 1);
  absl::StatusOr<anvil::CommandResult> run = anvil::RunCommand(
      {"/usr/bin/env", "node", Runfile("test/cloudsim/sdk_flow.js"), "--node-modules", *nm}, absl::Seconds(240));
  ASSERT_TRUE(run.ok()) << run.status();
  std::cout << run->out << run->err;
  EXPECT_EQ(run->exit_code, 0);
  EXPECT_NE(run->out.find("SDK_FLOW_OK"), std::string::npos);

  // Graceful stop, then the same database after a restart.
  EXPECT_EQ((*sim)->Stop(SIGTERM), 0) << "cloudsim should exit 0 on SIGTERM; see " << log;
  sim = SimProcess::Start(binary, SimArgs(chain, db), log);
  ASSERT_TRUE(sim.ok()) << sim.status();
  HttpClient client("127.0.0.1", static_cast<uint16_t>((*sim)->ready().at("port").as_int64()));
  testing::Reply r = client.Send("GET", "/api/v1/cvms/sdk-flow-app", "", {{"X-API-Key", kApiKey}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("kms_type").as_string(), "base");
  testing::Reply insp = client.Send("GET", "/_sim/cvms/sdk-flow-app");
  EXPECT_EQ(json::serialize(insp.json().at("env").at("values")), R"({"FOO":"via-compose-file"})");
  EXPECT_EQ((*sim)->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace cloudsim
