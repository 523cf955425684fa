#include "orchestrator/flows/ownership.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "orchestrator/engine/status_marks.h"
#include "orchestrator/flows/common.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace orchestrator::flows {
namespace {

// The canonical app of a CVM as get_cvm saw it: its DstackApp contract on chain, else its app id.
absl::StatusOr<std::string> AppResourceOf(const state::Cvm& cvm) {
  if (cvm.chain_id() != 0) {
    ASSIGN_OR_RETURN(const chain::Address app,
                     AddressField("cvm.app_contract_address",
                                  cvm.app_contract_address().empty() ? cvm.app_id() : cvm.app_contract_address()));
    return OnchainAppResource(cvm.chain_id(), app);
  }
  ASSIGN_OR_RETURN(const chain::Address app, AddressField("cvm.app_id", cvm.app_id()));
  return PhalaAppResource(app);
}

}  // namespace

std::string OperationTenant(const engine::OpContext& ctx) {
  auto [tenant, caller] = ctx.Read(
      [](const state::FlowState& st, const v1::Operation& op) { return std::make_pair(st.tenant(), op.caller()); });
  if (!tenant.empty()) return tenant;
  return ctx.deps().tenant_of_caller ? ctx.deps().tenant_of_caller(caller) : caller;
}

absl::Status RecordOwned(engine::OpContext& ctx, absl::string_view kind, const std::string& resource) {
  return RecordOwned(ctx, kind, std::vector<std::string>{resource});
}

absl::Status RecordOwned(engine::OpContext& ctx, absl::string_view kind, const std::vector<std::string>& resources) {
  const std::string tenant = OperationTenant(ctx);
  std::vector<journal::ResourceOwner> missing;
  for (const std::string& r : resources) {
    absl::StatusOr<std::optional<journal::ResourceOwner>> owner = ctx.deps().journal->FindOwner(kind, r);
    if (!owner.ok())
      return absl::IsUnavailable(owner.status()) ? engine::JournalUnavailableStatus(owner.status()) : owner.status();
    if (!owner->has_value()) {
      missing.push_back({std::string(kind), r, tenant, absl::StrCat("deploy:", ctx.id()), absl::Now()});
    } else if ((*owner)->tenant != tenant) {
      const std::string which = absl::StrJoin(resources, " or ");
      platform::log::Error("a resource this deploy created is owned by another tenant",
                           {{"op", ctx.id()}, {"kind", std::string(kind)}, {"resource", which}});
      return absl::FailedPreconditionError(
          absl::StrCat(kind, " ", which, " that this deploy created is owned by another tenant (an admin adopted it)"));
    }
  }
  // A resumed deploy finds its rows recorded: nothing to stage.
  return missing.empty() ? absl::OkStatus() : ctx.StageOwners(std::move(missing));
}

absl::Status CheckCvmAppInScope(engine::OpContext& ctx, const state::Cvm& cvm, absl::string_view cvm_id) {
  if (ctx.State().tenant_admin()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const std::string app, AppResourceOf(cvm));
  absl::StatusOr<std::optional<journal::ResourceOwner>> owner =
      ctx.deps().journal->FindOwner(journal::kResourceApp, app);
  if (!owner.ok()) return owner.status();  // UNAVAILABLE: the step retries
  if (!owner->has_value() || (*owner)->tenant == OperationTenant(ctx)) return absl::OkStatus();
  platform::log::Warn("update refused: the CVM's app belongs to another tenant",
                      {{"op", ctx.id()}, {"cvm_id", std::string(cvm_id)}, {"app", app}});
  return CvmNotInScope(cvm_id);
}

}  // namespace orchestrator::flows
