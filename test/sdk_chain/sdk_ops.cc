#include "test/sdk_chain/sdk_ops.h"

#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "test/anvil/harness.h"
#include "test/support/node_tools.h"

namespace sdkchain {

namespace json = boost::json;

absl::StatusOr<json::object> RunSdkOps(const chain::onchain::testing::AnvilEnv& env, json::array ops,
                                       absl::Duration timeout) {
  std::string script = "test/sdk_chain/sdk_ops.js";
  absl::StatusOr<std::string> modules = testsupport::NodeModulesDir();
  if (const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY"); ws != nullptr) {
    modules = absl::StrCat(ws, "/tools/node/node_modules");
    script = absl::StrCat(ws, "/", script);
  }
  if (!modules.ok()) return modules.status();
  json::object args{{"rpcUrl", env.anvil->chain().rpc_url},
                    {"chainId", env.chain_id},
                    {"kms", env.kms.Checksummed()},
                    {"privateKey", anvil::kDeployerPrivateKey},
                    {"ops", std::move(ops)}};
  absl::StatusOr<anvil::CommandResult> r =
      anvil::RunCommand({"/usr/bin/env", "NODE_PATH=" + *modules, "node", script, json::serialize(args)}, timeout);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) return absl::InternalError(absl::StrCat("sdk_ops.js failed: ", r->err));
  // The SDK logs to stdout too; the result is the line marked SDK_RESULT.
  const size_t at = r->out.rfind("SDK_RESULT ");
  if (at == std::string::npos) return absl::InternalError(absl::StrCat("sdk_ops.js printed no result: ", r->out));
  std::string line = r->out.substr(at + 11);
  line = line.substr(0, line.find('\n'));
  boost::system::error_code ec;
  json::value out = json::parse(line, ec);
  if (ec || !out.is_object()) return absl::InternalError(absl::StrCat("sdk_ops.js: bad result line: ", line));
  return std::move(out.as_object());
}

}  // namespace sdkchain
