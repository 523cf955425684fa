// App: who owns which CVM and app (service/ownership_guard.h, flows/ownership.h) under the
// access policy (SetAccess), and the owners of deploys journaled before ownership existed
// (flows/owner_backfill.h), recorded before any request is served.
#include "absl/strings/str_cat.h"
#include "orchestrator/flows/owner_backfill.h"
#include "orchestrator/server/app.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace orchestrator::server {

absl::Status App::SetUpOwnership() {
  deps_.tenant_of_caller = [policy = policy_.get()](const std::string& caller) {
    return policy->TenantOfCaller(caller);
  };
  ownership_ = std::make_unique<service::OwnershipGuard>(*journal_, *policy_);
  absl::StatusOr<flows::BackfillCounts> counts = flows::BackfillOwners(*journal_, deps_.tenant_of_caller);
  if (!counts.ok()) {
    return absl::Status(counts.status().code(),
                        absl::StrCat("recording the owners of earlier deploys: ", counts.status().message()));
  }
  if (counts->operations > 0) {
    platform::log::Info("owners of deploys journaled before ownership recorded",
                        {{"operations", absl::StrCat(counts->operations)},
                         {"resources", absl::StrCat(counts->recorded)},
                         {"kept_other_owner", absl::StrCat(counts->conflicts)}});
  }
  return absl::OkStatus();
}

}  // namespace orchestrator::server
