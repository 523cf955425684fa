#include "orchestrator/access/access_policy.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace orchestrator::access {
namespace {

namespace v1 = onchainkms::orchestrator::v1;

// The forms Caller::JournalKey() produces; anything else can never match a caller, so it is a
// typo worth refusing at start-up.
bool IsJournalKey(absl::string_view id) {
  if (id == "insecure") return true;
  uint32_t uid = 0;
  if (absl::ConsumePrefix(&id, "uid:")) return absl::SimpleAtoi(id, &uid) && absl::StrCat(uid) == id;
  if (absl::ConsumePrefix(&id, "cert:") || absl::ConsumePrefix(&id, "token:")) {
    return !id.empty() && std::none_of(id.begin(), id.end(), [](char c) { return absl::ascii_isspace(c); });
  }
  return false;
}

bool IsTenantName(absl::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!absl::ascii_islower(name[0]) && !absl::ascii_isdigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-'; });
}

absl::Status Invalid(absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

const char* RoleName(Role r) {
  switch (r) {
    case Role::kAdmin:
      return "an admin";
    case Role::kAuditor:
      return "an auditor (read-only)";
    case Role::kMember:
      return "a member";
    case Role::kViewer:
      return "a viewer (read-only)";
    case Role::kNone:
      break;
  }
  return "no role";
}

}  // namespace

absl::StatusOr<AccessPolicy> AccessPolicy::Compile(const v1::OrchestratorConfig& config,
                                                   std::optional<chain::Address> default_key) {
  AccessPolicy p;
  p.default_key_ = default_key;
  for (const v1::ChainConfig& c : config.chains()) p.chain_ids_.push_back(c.chain_id());
  if (!config.has_access()) return p;
  p.configured_ = true;
  const v1::AccessConfig& a = config.access();
  for (int i = 0; i < a.admins_size(); ++i) {
    if (absl::Status s = p.AddIdentity(a.admins(i), Role::kAdmin, "", absl::StrCat("access.admins[", i, "]"));
        !s.ok()) {
      return s;
    }
  }
  for (int i = 0; i < a.auditors_size(); ++i) {
    if (absl::Status s = p.AddIdentity(a.auditors(i), Role::kAuditor, "", absl::StrCat("access.auditors[", i, "]"));
        !s.ok()) {
      return s;
    }
  }
  for (int i = 0; i < a.tenants_size(); ++i) {
    if (absl::Status s = p.AddTenant(a.tenants(i), absl::StrCat("access.tenants[", i, "]")); !s.ok()) return s;
  }
  if (p.identities_.empty()) return Invalid("access", "names no identity (every call would be refused)");
  return p;
}

absl::Status AccessPolicy::AddIdentity(const std::string& identity, Role role, const std::string& tenant,
                                       const std::string& rule) {
  if (!IsJournalKey(identity)) {
    return Invalid(rule, absl::StrCat("\"", identity,
                                      "\" is not a caller identity (uid:<n>, cert:<name>, token:<name> or insecure)"));
  }
  auto [it, inserted] = identities_.try_emplace(identity, Principal{identity, tenant, role, rule});
  if (!inserted) return Invalid(rule, absl::StrCat("\"", identity, "\" is already ", it->second.rule));
  return absl::OkStatus();
}

absl::Status AccessPolicy::AddTenant(const v1::TenantConfig& t, const std::string& path) {
  if (!IsTenantName(t.name())) {
    return Invalid(absl::StrCat(path, ".name"), absl::StrCat("\"", t.name(), "\" must match [a-z0-9][a-z0-9-]{0,62}"));
  }
  auto [it, inserted] = tenants_.try_emplace(t.name(), Tenant{path, {}, {}});
  if (!inserted)
    return Invalid(absl::StrCat(path, ".name"), absl::StrCat("\"", t.name(), "\" is already ", it->second.rule));
  Tenant& tenant = it->second;
  for (int i = 0; i < t.members_size(); ++i) {
    if (absl::Status s = AddIdentity(t.members(i), Role::kMember, t.name(), absl::StrCat(path, ".members[", i, "]"));
        !s.ok()) {
      return s;
    }
    tenant.members.push_back(t.members(i));
  }
  std::sort(tenant.members.begin(), tenant.members.end());
  for (int i = 0; i < t.viewers_size(); ++i) {
    if (absl::Status s = AddIdentity(t.viewers(i), Role::kViewer, t.name(), absl::StrCat(path, ".viewers[", i, "]"));
        !s.ok()) {
      return s;
    }
  }
  for (int i = 0; i < t.signer_keys_size(); ++i) {
    const v1::SignerKeyGrant& g = t.signer_keys(i);
    const std::string gpath = absl::StrCat(path, ".signer_keys[", i, "]");
    absl::StatusOr<chain::Address> key = chain::Address::Parse(g.address());
    if (!key.ok()) return Invalid(absl::StrCat(gpath, ".address"), key.status().message());
    for (const Grant& earlier : tenant.grants) {
      if (earlier.key == *key) return Invalid(absl::StrCat(gpath, ".address"), "key granted twice to this tenant");
    }
    for (int j = 0; j < g.chain_ids_size(); ++j) {
      if (std::find(chain_ids_.begin(), chain_ids_.end(), g.chain_ids(j)) == chain_ids_.end()) {
        return Invalid(absl::StrCat(gpath, ".chain_ids[", j, "]"),
                       absl::StrCat("chain ", g.chain_ids(j), " is not one of `chains`"));
      }
    }
    tenant.grants.push_back(Grant{*key, {g.chain_ids().begin(), g.chain_ids().end()}});
  }
  return absl::OkStatus();
}

std::string AccessPolicy::CompatibilityWarning() const {
  if (configured_) return "";
  return "no `access` section in the config: every caller identity is its own tenant and may use only "
         "default_signer_key_address; add `access { admins: [...] tenants { name: \"...\" members: [...] "
         "signer_keys { address: \"0x...\" } } }` to name admins, share operations within a team and grant "
         "signer keys (docs/design/authorization.md)";
}

Principal AccessPolicy::ResolveKey(absl::string_view journal_key) const {
  if (!configured_) return Principal{std::string(journal_key), std::string(journal_key), Role::kMember, ""};
  auto it = identities_.find(journal_key);
  if (it == identities_.end()) return Principal{std::string(journal_key), "", Role::kNone, ""};
  return it->second;
}

std::string AccessPolicy::TenantOfCaller(absl::string_view journal_key) const {
  Principal p = ResolveKey(journal_key);
  return p.role == Role::kMember ? p.tenant : "";
}

std::vector<std::string> AccessPolicy::CallersOf(absl::string_view tenant) const {
  if (tenant.empty()) return {};
  if (!configured_) return {std::string(tenant)};
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? std::vector<std::string>{} : it->second.members;
}

absl::Status AccessPolicy::CheckKnown(const Principal& p) const {
  if (p.role != Role::kNone) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("caller ", p.identity,
                                                  " has no role in the orchestrator's `access` config (admins, "
                                                  "auditors, tenants[].members or tenants[].viewers)"));
}

absl::Status AccessPolicy::CheckMayAct(const Principal& p) const {
  if (absl::Status s = CheckKnown(p); !s.ok()) return s;
  if (p.role == Role::kAdmin || p.role == Role::kMember) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("caller ", p.identity, " is ", RoleName(p.role), " (", p.rule,
                                                  "): it may list, get and watch only"));
}

bool AccessPolicy::MaySee(const Principal& p, absl::string_view op_caller) const {
  if (p.SeesEverything()) return true;
  if (p.role == Role::kNone || p.tenant.empty()) return false;
  return TenantOfCaller(op_caller) == p.tenant;
}

bool AccessPolicy::AdminMaySign(const chain::Address& key, uint64_t chain_id) const {
  if (default_key_ == key) return true;
  for (const auto& [name, t] : tenants_) {
    for (const Grant& g : t.grants) {
      if (g.key == key && g.Covers(chain_id)) return true;
    }
  }
  return false;
}

absl::Status AccessPolicy::CheckSignerKey(const Principal& p, const chain::Address& key, uint64_t chain_id) const {
  if (!configured_) {
    if (default_key_ == key) return absl::OkStatus();
    return absl::PermissionDeniedError(
        absl::StrCat("signer key ", key.Checksummed(),
                     " is not default_signer_key_address; without an `access` section only "
                     "the default key may be used (grant others in access.tenants[].signer_keys)"));
  }
  if (absl::Status s = CheckMayAct(p); !s.ok()) return s;
  if (p.role == Role::kAdmin) {
    if (AdminMaySign(key, chain_id)) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat("signer key ", key.Checksummed(), " on chain ", chain_id,
                                                    " is neither default_signer_key_address nor granted in any "
                                                    "access.tenants[].signer_keys (admins may use those only)"));
  }
  const Tenant& t = tenants_.at(p.tenant);
  for (const Grant& g : t.grants) {
    if (g.key != key) continue;
    if (g.Covers(chain_id)) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat("signer key ", key.Checksummed(), " is granted to tenant ",
                                                    p.tenant, " only on chains ", absl::StrJoin(g.chain_ids, ","),
                                                    ", not ", chain_id, " (", t.rule, ".signer_keys)"));
  }
  return absl::PermissionDeniedError(absl::StrCat("signer key ", key.Checksummed(), " is not granted to tenant ",
                                                  p.tenant, " (", t.rule, ".signer_keys)"));
}

}  // namespace orchestrator::access
