// Declarations for the generated embedded_artifacts.cc (see the :embedded_artifacts genrule).
// Internal: use artifacts.h.
#ifndef ONCHAIN_KMS_TEST_ANVIL_EMBEDDED_ARTIFACTS_H_
#define ONCHAIN_KMS_TEST_ANVIL_EMBEDDED_ARTIFACTS_H_

#include <cstddef>

namespace anvil::internal {

struct EmbeddedArtifact {
  const char* name;  // file name without .json, i.e. the contract name
  const char* json;  // the committed artifact, verbatim
};

extern const EmbeddedArtifact kEmbeddedArtifacts[];
extern const std::size_t kEmbeddedArtifactCount;

}  // namespace anvil::internal

#endif  // ONCHAIN_KMS_TEST_ANVIL_EMBEDDED_ARTIFACTS_H_
