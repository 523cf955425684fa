// Runs sdk_ops.js — the @phala/cloud SDK's on-chain calls, in one Node process — against an
// AnvilEnv's chain and KMS with anvil's deployer key. Shared by sdk_chain_test and
// //bench/onchain:deploy_bench.
#ifndef ONCHAIN_KMS_TEST_SDK_CHAIN_SDK_OPS_H_
#define ONCHAIN_KMS_TEST_SDK_CHAIN_SDK_OPS_H_

#include <boost/json.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chain/onchain/testing/anvil_env.h"

namespace sdkchain {

// `ops` as sdk_ops.js takes them ({"kind": "deploy", "composeHash": …}, …). Returns the object
// it prints on its SDK_RESULT line ({"results": […], "raws": […]}). Under `bazel run`
// (BUILD_WORKSPACE_DIRECTORY set) the script and the npm tools come from the source tree.
absl::StatusOr<boost::json::object> RunSdkOps(const chain::onchain::testing::AnvilEnv& env, boost::json::array ops,
                                              absl::Duration timeout);

}  // namespace sdkchain

#endif  // ONCHAIN_KMS_TEST_SDK_CHAIN_SDK_OPS_H_
