// Who may do what in the orchestrator: the `access` section of its config (config.proto,
// AccessConfig), compiled once at start-up. Callers are named by platform::Caller::JournalKey(),
// the same string each operation stores as its `caller`, so an operation's tenant is the tenant
// of the identity that submitted it. See docs/design/authorization.md.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_ACCESS_ACCESS_POLICY_H_
#define ONCHAIN_KMS_ORCHESTRATOR_ACCESS_ACCESS_POLICY_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/address.h"
#include "onchainkms/orchestrator/v1/config.pb.h"
#include "platform/transport/caller.h"

namespace orchestrator::access {

enum class Role {
  kNone,     // named nowhere in `access`: refused every call
  kViewer,   // list/get/watch its tenant's operations
  kMember,   // act for its tenant
  kAuditor,  // list/get/watch everything, act on nothing
  kAdmin,    // see and act on everything
};

// A caller as the policy sees it.
struct Principal {
  std::string identity;  // the journal key, e.g. "token:ci"
  std::string tenant;    // empty for admins, auditors and kNone
  Role role = Role::kNone;
  std::string rule;  // the config path that gave the role, e.g. "access.tenants[0].members[1]"

  bool SeesEverything() const { return role == Role::kAdmin || role == Role::kAuditor; }
};

class AccessPolicy {
 public:
  // Validates `config.access` (every error is INVALID_ARGUMENT naming the field path) against the
  // configured chains. `default_key` is the parsed default_signer_key_address (flags applied).
  static absl::StatusOr<AccessPolicy> Compile(const onchainkms::orchestrator::v1::OrchestratorConfig& config,
                                              std::optional<chain::Address> default_key);

  // False when the config has no `access` section (every identity is its own tenant).
  bool configured() const { return configured_; }
  // Without an `access` section: the start-up warning saying what to add; empty otherwise.
  std::string CompatibilityWarning() const;

  Principal Resolve(const platform::Caller& caller) const { return ResolveKey(caller.JournalKey()); }
  Principal ResolveKey(absl::string_view journal_key) const;

  // The tenant whose operation this is, given the operation's stored `caller`; empty when that
  // identity is no tenant's member (an admin's, or one since removed from the config).
  std::string TenantOfCaller(absl::string_view journal_key) const;
  // The identities whose operations belong to `tenant` (its members), sorted.
  std::vector<std::string> CallersOf(absl::string_view tenant) const;

  // OK if the caller may have any RPC answered (health is not checked here); PERMISSION_DENIED
  // naming `access` otherwise.
  absl::Status CheckKnown(const Principal& p) const;
  // OK if the caller may submit or change operations; PERMISSION_DENIED naming its role otherwise.
  absl::Status CheckMayAct(const Principal& p) const;
  // Whether the caller may see an operation whose stored caller is `op_caller`.
  bool MaySee(const Principal& p, absl::string_view op_caller) const;
  // OK if `p` may sign with `key` on `chain_id`; PERMISSION_DENIED naming the config rule.
  absl::Status CheckSignerKey(const Principal& p, const chain::Address& key, uint64_t chain_id) const;

 private:
  struct Grant {
    chain::Address key;
    std::vector<uint64_t> chain_ids;  // empty: every configured chain

    bool Covers(uint64_t chain_id) const {
      return chain_ids.empty() || std::find(chain_ids.begin(), chain_ids.end(), chain_id) != chain_ids.end();
    }
  };
  struct Tenant {
    std::string rule;  // "access.tenants[i]"
    std::vector<std::string> members;
    std::vector<Grant> grants;
  };

  absl::Status AddIdentity(const std::string& identity, Role role, const std::string& tenant, const std::string& rule);
  absl::Status AddTenant(const onchainkms::orchestrator::v1::TenantConfig& t, const std::string& path);
  bool AdminMaySign(const chain::Address& key, uint64_t chain_id) const;

  bool configured_ = false;
  std::optional<chain::Address> default_key_;
  std::vector<uint64_t> chain_ids_;
  absl::flat_hash_map<std::string, Principal> identities_;
  absl::flat_hash_map<std::string, Tenant> tenants_;
};

}  // namespace orchestrator::access

#endif  // ONCHAIN_KMS_ORCHESTRATOR_ACCESS_ACCESS_POLICY_H_
