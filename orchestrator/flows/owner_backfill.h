// Journals written before ownership (issue [H] tenancy): the CVMs and apps their deploys created
// have no owner, so their creators' updates would be NOT_FOUND. At start-up, before any request
// is served, BackfillOwners records for every DeployCvm operation of that time what a deploy now
// records itself (its app; its CVM under its id and its app id), for the tenant of the
// operation's caller under the current access policy. Operations that carry their tenant
// (FlowState.tenant, or an admin's) recorded their own and are skipped; a caller that is no
// tenant's member (an admin, an identity removed from the config) leaves its resources to an
// admin's AdoptResource. Idempotent (RecordOwner of the same tenant is a no-op), so every start
// runs it, and replicas may run it at once; a resource adopted by another tenant meanwhile keeps
// that owner (logged).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_FLOWS_OWNER_BACKFILL_H_
#define ONCHAIN_KMS_ORCHESTRATOR_FLOWS_OWNER_BACKFILL_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "orchestrator/journal/journal.h"

namespace orchestrator::flows {

struct BackfillCounts {
  int operations = 0;  // deploys from before ownership that were looked at
  int recorded = 0;    // resources recorded (or found already recorded for that tenant)
  int conflicts = 0;   // resources another tenant owns (kept)
};

absl::StatusOr<BackfillCounts> BackfillOwners(journal::Journal& journal,
                                              const std::function<std::string(const std::string&)>& tenant_of);

}  // namespace orchestrator::flows

#endif  // ONCHAIN_KMS_ORCHESTRATOR_FLOWS_OWNER_BACKFILL_H_
