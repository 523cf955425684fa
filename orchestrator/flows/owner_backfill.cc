#include "orchestrator/flows/owner_backfill.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "orchestrator/flows/common.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace orchestrator::flows {
namespace {

struct Owned {
  const char* kind;
  std::string resource;
};

// What the deploy `op` created, as it records it now (deploy.cc).
std::vector<Owned> CreatedBy(const v1::Operation& op, const state::FlowState& st) {
  std::vector<Owned> out;
  std::optional<chain::Address> app;
  if (absl::StatusOr<chain::Address> a = AddressField("app_auth.app_id", st.app_auth().app_id()); a.ok()) {
    app = *a;
    out.push_back({journal::kResourceApp, OnchainAppResource(st.app_auth().chain_id(), *a)});
  } else if (absl::StatusOr<chain::Address> p = AddressField("provision.app_id", st.provision().app_id());
             p.ok() && st.provision().kms_info().chain_id() == 0) {
    app = *p;
    out.push_back({journal::kResourceApp, PhalaAppResource(*p)});
  }
  if (!op.cvm_id().empty()) {
    if (absl::StatusOr<std::string> cvm = CvmResource(op.cvm_id()); cvm.ok()) {
      out.push_back({journal::kResourceCvm, *cvm});
    }
    if (app.has_value()) out.push_back({journal::kResourceCvm, CvmResourceOfApp(*app)});
  }
  return out;
}

absl::Status Backfill(journal::Journal& journal, const journal::OperationRecord& r, const std::string& tenant,
                      BackfillCounts& counts) {
  v1::Operation op;
  state::FlowState st;
  if (!op.ParseFromString(r.operation) || !st.ParseFromString(r.internal)) return absl::OkStatus();
  if (!st.tenant().empty() || st.tenant_admin()) return absl::OkStatus();  // recorded its own
  ++counts.operations;
  if (tenant.empty()) return absl::OkStatus();
  for (const Owned& o : CreatedBy(op, st)) {
    absl::Status s = journal.RecordOwner({o.kind, o.resource, tenant, absl::StrCat("deploy:", r.id), r.update_time});
    if (absl::IsAlreadyExists(s)) {
      ++counts.conflicts;
      platform::log::Warn("owner backfill: another tenant owns a resource an old deploy created; kept",
                          {{"op", r.id}, {"kind", o.kind}, {"resource", o.resource}});
      continue;
    }
    RETURN_IF_ERROR(s);
    ++counts.recorded;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BackfillCounts> BackfillOwners(journal::Journal& journal,
                                              const std::function<std::string(const std::string&)>& tenant_of) {
  BackfillCounts counts;
  journal::ListQuery q;
  q.kind = v1::OPERATION_KIND_DEPLOY_CVM;
  q.limit = 200;
  for (;;) {
    ASSIGN_OR_RETURN(const std::vector<journal::OperationRecord> page, journal.List(q));
    for (const journal::OperationRecord& r : page) {
      RETURN_IF_ERROR(Backfill(journal, r, tenant_of(r.caller), counts));
    }
    if (page.size() < q.limit) return counts;
    q.after = journal::ListCursor{page.back().create_time, page.back().id};
  }
}

}  // namespace orchestrator::flows
