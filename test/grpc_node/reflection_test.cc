// Starts the real signer and orchestrator binaries on Unix sockets, then runs
// reflection_test.js with Node (@grpc/grpc-js, grpc-js-reflection-client, @grpc/proto-loader
// from tools/node/node_modules) against them.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "rpc/testing/server_process.h"
#include "test/support/node_tools.h"

namespace {

using rpc::testing::RunfilePath;
using rpc::testing::ServerProcess;
using rpc::testing::ShortTempDir;

// `node` from PATH, or the usual places.
std::string FindNode() {
  std::vector<std::string> candidates;
  if (const char* path = std::getenv("PATH")) {
    for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
      candidates.push_back(std::string(dir) + "/node");
    }
  }
  candidates.push_back("/usr/local/bin/node");
  candidates.push_back("/usr/bin/node");
  for (const std::string& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  return "";
}

TEST(GrpcNodeTest, ReflectionAndProtoLoaderAgainstTheRealBinaries) {
  absl::StatusOr<std::string> node_modules = testsupport::NodeModulesDir();
  ASSERT_TRUE(node_modules.ok()) << node_modules.status();
  const std::string node = FindNode();
  ASSERT_FALSE(node.empty()) << "node not found: run tools/bootstrap.sh";

  ShortTempDir dir;
  const std::string signer_address = "unix:" + dir.path() + "/signer.sock";
  const std::string orchestrator_address = "unix:" + dir.path() + "/orchestrator.sock";
  // The real signer needs its files: an empty keystore (no keys: every Sign* call is NOT_FOUND or
  // INVALID_ARGUMENT), an empty policy (deny everything), its database and audit log.
  ASSERT_EQ(::mkdir((dir.path() + "/keystore").c_str(), 0700), 0);
  { std::ofstream(dir.path() + "/policy.textproto") << "# deny everything\n"; }
  absl::StatusOr<std::unique_ptr<ServerProcess>> signer = ServerProcess::Start(
      RunfilePath("signer/signer"),
      {"--listen=" + signer_address, "--keystore_dir=" + dir.path() + "/keystore",
       "--policy_file=" + dir.path() + "/policy.textproto", "--anti_equivocation_db=" + dir.path() + "/ae.sqlite",
       "--audit_log=" + dir.path() + "/audit.jsonl"});
  ASSERT_TRUE(signer.ok()) << signer.status();
  absl::StatusOr<std::unique_ptr<ServerProcess>> orchestrator =
      ServerProcess::Start(RunfilePath("orchestrator/orchestrator"), {"--listen=" + orchestrator_address});
  ASSERT_TRUE(orchestrator.ok()) << orchestrator.status();
  ASSERT_TRUE((*signer)->WaitUntilServing(signer_address).ok());
  ASSERT_TRUE((*orchestrator)->WaitUntilServing(orchestrator_address).ok());

  absl::StatusOr<int> exit_code = rpc::testing::RunProgram(
      node, {RunfilePath("test/grpc_node/reflection_test.js")},
      {"NODE_PATH=" + *node_modules, "SIGNER_ADDRESS=" + signer_address,
       "ORCHESTRATOR_ADDRESS=" + orchestrator_address, "PROTO_DIR=" + RunfilePath("proto")},
      absl::Seconds(120));
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0) << "reflection_test.js failed; its output is above";

  EXPECT_EQ(*(*signer)->Stop(), 0);
  EXPECT_EQ(*(*orchestrator)->Stop(), 0);
}

}  // namespace
