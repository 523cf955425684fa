#include "orchestrator/service/ownership_guard.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chain/address.h"
#include "cloudapi/types.h"
#include "google/protobuf/util/time_util.h"
#include "orchestrator/flows/resource_names.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace orchestrator::service {
namespace {

using access::Principal;
using access::Role;
using google::protobuf::util::TimeUtil;

struct Target {
  std::string kind;
  std::string resource;
};

absl::StatusOr<Target> TargetOf(const v1::AdoptResourceRequest& r) {
  switch (r.resource_case()) {
    case v1::AdoptResourceRequest::kCvmId: {
      if (r.cvm_id().empty() || r.cvm_id().size() > 128) return absl::InvalidArgumentError("cvm_id: 1-128 characters");
      ASSIGN_OR_RETURN(std::string cvm, flows::CvmResource(r.cvm_id()));
      return Target{journal::kResourceCvm, std::move(cvm)};
    }
    case v1::AdoptResourceRequest::kApp: {
      if (r.app().chain_id() == 0) return absl::InvalidArgumentError("app.chain_id: required");
      absl::StatusOr<chain::Address> a = chain::Address::Parse(r.app().app_contract_address());
      if (!a.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("app.app_contract_address: ", a.status().message()));
      }
      return Target{journal::kResourceApp, flows::OnchainAppResource(r.app().chain_id(), *a)};
    }
    case v1::AdoptResourceRequest::kPhalaAppId: {
      absl::StatusOr<chain::Address> a = cloudapi::ParseAppId(r.phala_app_id());
      if (!a.ok()) return absl::InvalidArgumentError("phala_app_id: want 40 hex digits, 0x optional");
      return Target{journal::kResourceApp, flows::PhalaAppResource(*a)};
    }
    default:
      return absl::InvalidArgumentError("resource: required: cvm_id, app or phala_app_id");
  }
}

v1::ResourceOwner ToProto(const journal::ResourceOwner& o) {
  v1::ResourceOwner out;
  out.set_tenant(o.tenant);
  out.set_source(o.source);
  *out.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(o.created_at));
  return out;
}

}  // namespace

absl::Status OwnershipGuard::CheckMayChange(const Principal& p) const { return policy_.CheckMayAct(p); }

absl::Status OwnershipGuard::CheckOwner(const Principal& p, absl::string_view kind, const std::string& resource,
                                        absl::Status not_found) const {
  if (p.role == Role::kAdmin) return absl::OkStatus();
  ASSIGN_OR_RETURN(const std::optional<journal::ResourceOwner> owner, journal_.FindOwner(kind, resource));
  if (owner.has_value() && !p.tenant.empty() && owner->tenant == p.tenant) return absl::OkStatus();
  return not_found;
}

absl::Status OwnershipGuard::CvmInScope(const Principal& p, absl::string_view cvm_id) const {
  absl::StatusOr<std::string> cvm = flows::CvmResource(cvm_id);
  if (!cvm.ok()) return cvm.status();
  return CheckOwner(p, journal::kResourceCvm, *cvm, flows::CvmNotInScope(cvm_id));
}

absl::StatusOr<bool> OwnershipGuard::MaySee(const Principal& p, absl::string_view cvm_id,
                                            const std::optional<chain::Address>& app_id) const {
  RETURN_IF_ERROR(policy_.CheckKnown(p));
  if (p.SeesEverything()) return true;
  if (p.tenant.empty()) return false;
  std::vector<std::string> names;
  if (absl::StatusOr<std::string> cvm = flows::CvmResource(cvm_id); cvm.ok()) names.push_back(*cvm);
  if (app_id.has_value()) names.push_back(flows::CvmResourceOfApp(*app_id));
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(const std::optional<journal::ResourceOwner> owner,
                     journal_.FindOwner(journal::kResourceCvm, name));
    if (owner.has_value() && owner->tenant == p.tenant) return true;
  }
  return false;
}

absl::Status OwnershipGuard::AppInScope(const Principal& p, uint64_t chain_id, absl::string_view app_address) const {
  absl::StatusOr<chain::Address> app = chain::Address::Parse(app_address);
  if (!app.ok()) return absl::InvalidArgumentError(absl::StrCat("app.app_contract_address: ", app.status().message()));
  return CheckOwner(p, journal::kResourceApp, flows::OnchainAppResource(chain_id, *app),
                    flows::AppNotInScope(chain_id, app_address));
}

absl::Status OwnershipGuard::CheckCvm(const Principal& p, absl::string_view cvm_id) const {
  RETURN_IF_ERROR(CheckMayChange(p));
  return CvmInScope(p, cvm_id);
}

absl::Status OwnershipGuard::CheckApp(const Principal& p, uint64_t chain_id, absl::string_view app_address) const {
  RETURN_IF_ERROR(CheckMayChange(p));
  return AppInScope(p, chain_id, app_address);
}

absl::Status OwnershipGuard::CheckCvmReadable(const Principal& p, absl::string_view cvm_id) const {
  RETURN_IF_ERROR(policy_.CheckKnown(p));
  if (p.role == Role::kAuditor) return absl::OkStatus();
  return CvmInScope(p, cvm_id);
}

absl::Status OwnershipGuard::CheckAppReadable(const Principal& p, uint64_t chain_id,
                                              absl::string_view app_address) const {
  RETURN_IF_ERROR(policy_.CheckKnown(p));
  if (p.role == Role::kAuditor) return absl::OkStatus();
  return AppInScope(p, chain_id, app_address);
}

absl::StatusOr<v1::AdoptResourceResponse> OwnershipGuard::Adopt(const Principal& p,
                                                                const v1::AdoptResourceRequest& request) const {
  RETURN_IF_ERROR(policy_.CheckKnown(p));
  if (p.role != Role::kAdmin) {
    return absl::PermissionDeniedError(
        absl::StrCat("caller ", p.identity, " is not an admin (access.admins): only admins adopt CVMs and apps"));
  }
  if (request.tenant().empty()) return absl::InvalidArgumentError("tenant: required");
  if (policy_.CallersOf(request.tenant()).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tenant: '", request.tenant(), "' is not a tenant with members in access.tenants"));
  }
  ASSIGN_OR_RETURN(const Target target, TargetOf(request));
  const journal::ResourceOwner owner{target.kind, target.resource, request.tenant(), absl::StrCat("adopt:", p.identity),
                                     absl::Now()};
  ASSIGN_OR_RETURN(const journal::AdoptResult adopted, journal_.AdoptResource(owner));
  platform::log::Info("resource adopted",
                      {{"caller", p.identity},
                       {"kind", target.kind},
                       {"resource", target.resource},
                       {"tenant", request.tenant()},
                       {"previous_tenant", adopted.previous.has_value() ? adopted.previous->tenant : "(none)"}});
  v1::AdoptResourceResponse out;
  out.set_kind(target.kind);
  out.set_resource(target.resource);
  *out.mutable_owner() = ToProto(adopted.owner);
  if (adopted.previous.has_value()) *out.mutable_previous_owner() = ToProto(*adopted.previous);
  return out;
}

}  // namespace orchestrator::service
