// Who owns a CVM or an app in the orchestrator (issue [H] "tenancy"): one row per resource, keyed
// by (kind, resource), naming the tenant whose members may update it or register compose hashes
// on it. A deploy records the resources it creates (source "deploy:<operation id>"); an admin
// adopts resources created elsewhere, or moves one to another tenant ("adopt:<caller key>").
//
// `resource` is always in its canonical form (orchestrator/common/owned_resource.h), so that the
// several ways a request may name one CVM or app find the same row.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_RESOURCE_OWNER_H_
#define ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_RESOURCE_OWNER_H_

#include <optional>
#include <string>

#include "absl/time/time.h"

namespace orchestrator::journal {

inline constexpr char kResourceCvm[] = "cvm";
inline constexpr char kResourceApp[] = "app";

struct ResourceOwner {
  std::string kind;                           // kResourceCvm or kResourceApp
  std::string resource;                       // canonical id
  std::string tenant;                         // access policy tenant name (journal key of the caller without one)
  std::string source;                         // "deploy:<operation id>" or "adopt:<admin caller key>"
  absl::Time created_at = absl::UnixEpoch();  // when this owner was recorded
};

// Journal::AdoptResource's answer.
struct AdoptResult {
  ResourceOwner owner;                    // as stored now
  std::optional<ResourceOwner> previous;  // the owner it replaced; nullopt when there was none
};

}  // namespace orchestrator::journal

#endif  // ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_RESOURCE_OWNER_H_
