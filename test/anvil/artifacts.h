// The compiled test contracts (//test/contracts/artifacts/*.json), embedded into the binary at
// build time so neither tests nor the devchain tool need a compiler or runfiles to deploy them.
#ifndef ONCHAIN_KMS_TEST_ANVIL_ARTIFACTS_H_
#define ONCHAIN_KMS_TEST_ANVIL_ARTIFACTS_H_

#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace anvil {

struct ContractArtifact {
  std::string name;  // "DstackKms", "DstackApp", "DstackAppProxy", "KmsDecoy"
  boost::json::array abi;
  std::string bytecode;           // creation code, 0x-hex (append ABI-encoded constructor args)
  std::string deployed_bytecode;  // runtime code, 0x-hex (what eth_getCode returns)
  std::string solc_version;       // e.g. "0.8.24+commit.e11b9ed9.Emscripten.clang"
  std::string sources_sha256;     // digest over test/contracts/src, see compile.js
};

// NotFound for an unknown name.
absl::StatusOr<ContractArtifact> LoadArtifact(absl::string_view name);

// Every embedded contract name, sorted.
std::vector<std::string> ArtifactNames();

}  // namespace anvil

#endif  // ONCHAIN_KMS_TEST_ANVIL_ARTIFACTS_H_
