// Locates the pinned npm test tools (anvil, cast, node packages) from inside a Bazel test.
//
// The tools live in tools/node/node_modules, installed by tools/bootstrap.sh and ignored by git,
// so they are not Bazel inputs. A test lists "//tools/node:package.json" in its `data`; the
// runfiles symlink of that file leads back to the source tree, and node_modules sits beside it.
#ifndef ONCHAIN_KMS_TEST_SUPPORT_NODE_TOOLS_H_
#define ONCHAIN_KMS_TEST_SUPPORT_NODE_TOOLS_H_

#include <string>

#include "absl/status/statusor.h"

namespace testsupport {

// Absolute path of tools/node/node_modules. NotFound with a hint to run tools/bootstrap.sh.
absl::StatusOr<std::string> NodeModulesDir();

// The real foundry binaries (never the node_modules/.bin wrappers: they always exit 0).
absl::StatusOr<std::string> CastBinary();
absl::StatusOr<std::string> AnvilBinary();

// Absolute path of the repository's source root (for scripts under test/ or tools/).
absl::StatusOr<std::string> SourceRoot();

}  // namespace testsupport

#endif  // ONCHAIN_KMS_TEST_SUPPORT_NODE_TOOLS_H_
