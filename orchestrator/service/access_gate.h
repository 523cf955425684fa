// The access policy (orchestrator/access) applied to the service's calls: who may call, which
// operations a caller sees, which signer key a request may name. See docs/design/authorization.md.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_SERVICE_ACCESS_GATE_H_
#define ONCHAIN_KMS_ORCHESTRATOR_SERVICE_ACCESS_GATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "orchestrator/access/access_policy.h"
#include "orchestrator/engine/manager.h"
#include "orchestrator/service/validation.h"
#include "platform/transport/caller.h"

namespace orchestrator::service {

// NOT_FOUND for an operation: the one message for an id that does not exist and for one the
// caller may not see, so that a refusal does not confirm that the operation exists.
absl::Status OperationNotFound(absl::string_view id);

class AccessGate {
 public:
  AccessGate(const access::AccessPolicy& policy, engine::OperationManager& manager)
      : policy_(policy), manager_(manager) {}

  // The caller's principal; PERMISSION_DENIED when it has no role, or (`act`) a read-only one.
  absl::StatusOr<access::Principal> Admit(const platform::Caller& caller, bool act) const;
  // The operation if `p` may see it, else OperationNotFound (also for any NOT_FOUND).
  absl::StatusOr<v1::Operation> Visible(const access::Principal& p, absl::string_view id) const;
  // The same check without the operation (for calls that act on it by id).
  absl::Status CheckVisible(const access::Principal& p, absl::string_view id) const;
  // The callers whose operations `p` lists; nullopt: every caller (admins, auditors).
  std::optional<std::vector<std::string>> ListScope(const access::Principal& p) const;
  // `key` on the request's chain, when the chain is known before the operation runs (else the
  // engine checks when it signs). PERMISSION_DENIED naming the grant.
  absl::Status CheckSignerKey(const access::Principal& p, const std::optional<chain::Address>& key,
                              std::optional<uint64_t> chain_id) const;

  const access::AccessPolicy& policy() const { return policy_; }

 private:
  // The one rule of Visible and CheckVisible: the lookup's NOT_FOUND and a caller `p` may not
  // see both answer OperationNotFound; another lookup error as it is.
  absl::Status Seen(const access::Principal& p, absl::string_view id, const absl::Status& found,
                    absl::string_view caller) const;

  const access::AccessPolicy& policy_;
  engine::OperationManager& manager_;
};

// The chain a request will sign on when it is known from the request alone: DeployCvm with a
// kms_id or kms_contract_address (that KMS's chain), AddComposeHash naming an app contract.
// nullopt when it is learned at run time (from the CVM, or the KMS chosen by kms_type).
std::optional<uint64_t> SubmitChain(const v1::DeployCvmRequest& r, const ValidationContext& ctx);
std::optional<uint64_t> SubmitChain(const v1::AddComposeHashRequest& r, const ValidationContext& ctx);
std::optional<uint64_t> SubmitChain(const v1::UpdateAppContractRequest& r, const ValidationContext& ctx);
template <typename Request>
std::optional<uint64_t> SubmitChain(const Request&, const ValidationContext&) {
  return std::nullopt;
}

}  // namespace orchestrator::service

#endif  // ONCHAIN_KMS_ORCHESTRATOR_SERVICE_ACCESS_GATE_H_
