#include "orchestrator/service/access_gate.h"

#include "absl/strings/str_cat.h"
#include "chain/address.h"
#include "platform/status_macros.h"

namespace orchestrator::service {

absl::Status OperationNotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("operation ", id, " not found"));
}

absl::StatusOr<access::Principal> AccessGate::Admit(const platform::Caller& caller, bool act) const {
  access::Principal p = policy_.Resolve(caller);
  absl::Status s = act ? policy_.CheckMayAct(p) : policy_.CheckKnown(p);
  if (!s.ok()) return s;
  return p;
}

absl::Status AccessGate::Seen(const access::Principal& p, absl::string_view id, const absl::Status& found,
                              absl::string_view caller) const {
  if (absl::IsNotFound(found)) return OperationNotFound(id);
  if (!found.ok()) return found;
  if (!policy_.MaySee(p, caller)) return OperationNotFound(id);
  return absl::OkStatus();
}

absl::StatusOr<v1::Operation> AccessGate::Visible(const access::Principal& p, absl::string_view id) const {
  absl::StatusOr<v1::Operation> op = manager_.Get(id);
  RETURN_IF_ERROR(Seen(p, id, op.status(), op.ok() ? op->caller() : ""));
  return op;
}

absl::Status AccessGate::CheckVisible(const access::Principal& p, absl::string_view id) const {
  absl::StatusOr<std::string> caller = manager_.Caller(id);
  return Seen(p, id, caller.status(), caller.ok() ? *caller : "");
}

std::optional<std::vector<std::string>> AccessGate::ListScope(const access::Principal& p) const {
  if (p.SeesEverything()) return std::nullopt;
  return policy_.CallersOf(p.tenant);
}

absl::Status AccessGate::CheckSignerKey(const access::Principal& p, const std::optional<chain::Address>& key,
                                        std::optional<uint64_t> chain_id) const {
  if (!key.has_value() || !chain_id.has_value()) return absl::OkStatus();
  return policy_.CheckSignerKey(p, *key, *chain_id);
}

std::optional<uint64_t> SubmitChain(const v1::DeployCvmRequest& r, const ValidationContext& ctx) {
  std::optional<chain::Address> contract;
  if (!r.kms_contract_address().empty()) {
    if (absl::StatusOr<chain::Address> a = chain::Address::Parse(r.kms_contract_address()); a.ok()) contract = *a;
  }
  for (const cloudapi::KmsInfo& k : ctx.kms) {
    const bool named = !r.kms_id().empty() ? (k.id == r.kms_id() || k.slug == r.kms_id())
                                           : contract.has_value() && k.kms_contract_address == contract;
    if (named && k.chain_id.has_value() && *k.chain_id > 0) return static_cast<uint64_t>(*k.chain_id);
  }
  return std::nullopt;
}

namespace {
template <typename Request>
std::optional<uint64_t> AppChain(const Request& r) {
  if (r.has_app() && r.app().chain_id() != 0) return r.app().chain_id();
  return std::nullopt;
}
}  // namespace

std::optional<uint64_t> SubmitChain(const v1::AddComposeHashRequest& r, const ValidationContext&) {
  return AppChain(r);
}

std::optional<uint64_t> SubmitChain(const v1::UpdateAppContractRequest& r, const ValidationContext&) {
  return AppChain(r);
}

}  // namespace orchestrator::service
