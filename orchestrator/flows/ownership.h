// Ownership inside the flows (issue [H] tenancy; journal/resource_owner.h):
//   - a deploy records the app as soon as its id is known and the CVM as soon as its id is known,
//     before the step that learned it is journaled SUCCEEDED, so a crash between the two only
//     records again on resume (the same tenant again is a no-op);
//   - an update learns the CVM's app at run time (get_cvm): an app another tenant owns fails
//     the operation with the same NOT_FOUND the service gives for a CVM out of scope, before
//     anything is signed or sent.
// The tenant is the one the service resolved at submit (FlowState.tenant); operations journaled
// before tenancy resolve their caller through FlowDeps.tenant_of_caller.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_FLOWS_OWNERSHIP_H_
#define ONCHAIN_KMS_ORCHESTRATOR_FLOWS_OWNERSHIP_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "orchestrator/engine/op_context.h"
#include "orchestrator/state/flow_state.pb.h"

namespace orchestrator::flows {

// The tenant the operation acts for.
std::string OperationTenant(const engine::OpContext& ctx);

// Records the operation's tenant as the owner of `resource` (canonical, resource_names.h) of
// `kind` with source "deploy:<operation id>", by the running step's result write: the owner row is
// staged (OpContext::StageOwners) after a read, so no write of its own. FAILED_PRECONDITION when
// another tenant owns it (an admin adopted it meanwhile); a journal outage pauses the operation
// (JournalUnavailable). An adopt between the read and the write keeps the adopter.
absl::Status RecordOwned(engine::OpContext& ctx, absl::string_view kind, const std::string& resource);
// RecordOwned of several resources of `kind`, staged together.
absl::Status RecordOwned(engine::OpContext& ctx, absl::string_view kind, const std::vector<std::string>& resources);

// NOT_FOUND "cvm_id: no CVM <cvm_id> in your scope ..." (the service's message) when the app of
// `cvm` (learned by get_cvm) is owned by another tenant than the operation's, unless the
// operation was submitted by an admin. An app nobody owns passes: the CVM itself was checked at
// submit.
absl::Status CheckCvmAppInScope(engine::OpContext& ctx, const ::orchestrator::state::v1::Cvm& cvm,
                                absl::string_view cvm_id);

}  // namespace orchestrator::flows

#endif  // ONCHAIN_KMS_ORCHESTRATOR_FLOWS_OWNERSHIP_H_
