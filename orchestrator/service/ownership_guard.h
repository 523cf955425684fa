// Who may change which CVM or app (issue [H] tenancy; journal/resource_owner.h): the checks the
// service makes at submit, before anything is journaled, and the admin's AdoptResource.
//
//   - UpdateEnvVars / UpdateDockerCompose / UpdateComposeFile (cvm_id) and AddComposeHash (cvm_id,
//     or chain + app contract): a member may act on a resource its tenant owns; an admin on any.
//   - A resource of another tenant and one nobody owns get the same NOT_FOUND ("cvm_id: no CVM
//     <id> in your scope (an admin can adopt it)"), so a caller learns nothing about what exists.
//   - Viewers, auditors and unknown identities: PERMISSION_DENIED (the access policy's message).
// Flows that learn the CVM's app at run time check it too (flows/ownership.h).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_SERVICE_OWNERSHIP_GUARD_H_
#define ONCHAIN_KMS_ORCHESTRATOR_SERVICE_OWNERSHIP_GUARD_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/address.h"
#include "onchainkms/orchestrator/v1/orchestrator.pb.h"
#include "orchestrator/access/access_policy.h"
#include "orchestrator/journal/journal.h"

namespace orchestrator::service {

namespace v1 = ::onchainkms::orchestrator::v1;

class OwnershipGuard {
 public:
  OwnershipGuard(journal::Journal& journal, const access::AccessPolicy& policy) : journal_(journal), policy_(policy) {}

  const access::AccessPolicy& policy() const { return policy_; }

  // May `p` change the CVM a request names as `cvm_id` (validated)?
  absl::Status CheckCvm(const access::Principal& p, absl::string_view cvm_id) const;
  // May `p` read the CVM with API id `cvm_id` and app `app_id` (GetCvm, ListCvms)? Admins and
  // auditors see every CVM; others those their tenant owns under either name.
  absl::StatusOr<bool> MaySee(const access::Principal& p, absl::string_view cvm_id,
                              const std::optional<chain::Address>& app_id) const;
  // May `p` register compose hashes on app contract `app_address` (validated) on `chain_id`?
  absl::Status CheckApp(const access::Principal& p, uint64_t chain_id, absl::string_view app_address) const;

  // The same scope for reading (GetAppState): viewers and auditors of the tenant pass too; a
  // resource outside the caller's scope is the same NOT_FOUND. Admins and auditors see all.
  absl::Status CheckCvmReadable(const access::Principal& p, absl::string_view cvm_id) const;
  absl::Status CheckAppReadable(const access::Principal& p, uint64_t chain_id, absl::string_view app_address) const;

  // AdoptResource: `p` must be an admin (PERMISSION_DENIED), `request.tenant` a tenant of the
  // policy with members (INVALID_ARGUMENT naming `tenant`).
  absl::StatusOr<v1::AdoptResourceResponse> Adopt(const access::Principal& p,
                                                  const v1::AdoptResourceRequest& request) const;

 private:
  // The role checks every target shares; OK for admins and members.
  absl::Status CheckMayChange(const access::Principal& p) const;
  // What CheckCvm / CheckApp check once the role check passed: the resource is in `p`'s tenant.
  absl::Status CvmInScope(const access::Principal& p, absl::string_view cvm_id) const;
  absl::Status AppInScope(const access::Principal& p, uint64_t chain_id, absl::string_view app_address) const;
  // OK when `p`'s tenant owns (kind, resource); `not_found` otherwise.
  absl::Status CheckOwner(const access::Principal& p, absl::string_view kind, const std::string& resource,
                          absl::Status not_found) const;

  journal::Journal& journal_;
  const access::AccessPolicy& policy_;
};

}  // namespace orchestrator::service

#endif  // ONCHAIN_KMS_ORCHESTRATOR_SERVICE_OWNERSHIP_GUARD_H_
