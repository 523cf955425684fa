// The policy layer: a validated, compiled form of the operator's Policy file (policy.proto) and
// the decisions it makes on decoded intents. Deny-by-default; every denial names the rule in the
// syntax of policy.proto's comment, e.g. `chains[chain_id=8453].max_fee_per_gas_wei`.
//
// Stateless: rate limits and fee/value budgets (which need history) live in usage_tracker.h. Knows
// nothing of keys or transport.
#ifndef ONCHAIN_KMS_SIGNER_POLICY_POLICY_H_
#define ONCHAIN_KMS_SIGNER_POLICY_POLICY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/u256.h"
#include "onchainkms/signer/v1/policy.pb.h"
#include "signer/policy/call_matcher.h"

namespace signer::policy {

// What a transaction request asks for, after the signer built its calldata.
struct TxIntent {
  // kManageDevices / kManageOwnership: SignAppCall's device calls / its ownership and upgrade
  // calls (chain/dstack_app_calls.h), `data` being the calldata the signer built.
  enum class Kind { kDeployAndRegisterApp, kAddComposeHash, kGeneric, kManageDevices, kManageOwnership };
  Kind kind = Kind::kGeneric;
  std::string caller;  // the transport's Caller::JournalKey(): "uid:1000", "cert:ci", ...
  uint64_t chain_id = 0;
  chain::Address from;
  chain::Address to;
  chain::U256 value;
  chain::Bytes data;
  uint64_t gas_limit = 0;
  chain::U256 max_fee_per_gas;
  chain::U256 max_priority_fee_per_gas;
};

// The `callers` intent a transaction request is (policy.proto's Intent).
onchainkms::signer::v1::Intent IntentOf(TxIntent::Kind kind);

// The outcome of a check. `rule` is set for both outcomes when a rule decided ("allowed by
// generic_transaction_rules[name=\"x\"]"); `status` is OK or PERMISSION_DENIED / INVALID_ARGUMENT
// whose message names the rule.
struct Decision {
  absl::Status status;
  std::string rule;
  bool allowed() const { return status.ok(); }
};

// Limits that apply to one key.
struct KeyLimits {
  std::string rule_prefix;  // "default_key_limits" or "keys[address=0x..].limits"
  std::optional<double> requests_per_second;
  uint32_t burst = 0;
  std::optional<chain::U256> fee_budget_24h;
  std::optional<chain::U256> value_budget_24h;
};

class CompiledPolicy {
 public:
  // Validates every field; InvalidArgument naming the first bad one ("chains[1].max_gas_limit:
  // required"). `source` (a file name) prefixes messages.
  static absl::StatusOr<std::shared_ptr<const CompiledPolicy>> Compile(const onchainkms::signer::v1::Policy& policy);

  // The caller's binding, chain, target contract or generic rule (and its argument matchers),
  // fee/gas caps; value 0 for the contract-call intents. kManageOwnership needs both: a generic
  // rule for the chain, the app (`to`) and the call's function_signature that pins every
  // argument (equals_any), so no rule short of naming the new owner gives an app away.
  Decision CheckTransaction(const TxIntent& intent) const;
  // `callers`: the caller (a Caller::JournalKey()) may use `key` for `intent`. Always allowed
  // when the policy has no `callers` (see binds_callers()).
  Decision CheckCaller(absl::string_view caller, const chain::Address& key,
                       onchainkms::signer::v1::Intent intent) const;
  // Whether ListKeys / GetKey show `key` to the caller: its binding names the key.
  bool MayUseKey(absl::string_view caller, const chain::Address& key) const;
  // False for a policy without `callers`: every caller may use every key (compatibility).
  bool binds_callers() const { return !bindings_.empty(); }
  // message_signing: enabled, key allowed, size.
  Decision CheckMessage(const chain::Address& from, size_t message_size) const;
  // The limits of `key` (its `keys` entry or the defaults).
  const KeyLimits& LimitsFor(const chain::Address& key) const;

  // SHA-256 of the serialized policy, for logs and the audit trail (which policy decided).
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  struct Chain {
    uint64_t chain_id = 0;
    std::string rule;  // chains[chain_id=N]
    absl::flat_hash_set<chain::Address> factories;
    absl::flat_hash_set<chain::Address> apps;
    bool any_app = false;
    chain::U256 max_fee;
    chain::U256 max_priority_fee;
    uint64_t max_gas_limit = 0;
  };
  struct GenericRule {
    std::string name;
    std::string rule;  // generic_transaction_rules[name="x"]
    uint64_t chain_id = 0;
    chain::Address to;
    std::optional<std::array<uint8_t, 4>> selector;  // nullopt: plain transfer with empty data
    chain::U256 max_value;
    absl::flat_hash_set<chain::Address> from;  // empty: any key
    std::optional<CallMatcher> call;           // function_signature + arguments
  };
  struct Binding {
    std::string rule;  // callers[name="x"]
    absl::flat_hash_set<chain::Address> keys;
    absl::flat_hash_set<int> intents;                // onchainkms.signer.v1.Intent values
    absl::flat_hash_set<std::string> generic_rules;  // empty: any
  };

  CompiledPolicy() = default;
  // The steps of Compile, one per section of the policy.
  absl::Status CompileChains(const onchainkms::signer::v1::Policy& policy);
  absl::Status CompileKeyLimits(const onchainkms::signer::v1::Policy& policy);
  absl::Status CompileGenericRules(const onchainkms::signer::v1::Policy& policy);
  absl::Status CompileMessageSigning(const onchainkms::signer::v1::MessageSigningPolicy& message_signing);
  absl::Status CompileCallers(const onchainkms::signer::v1::Policy& policy);
  // The binding naming `caller`; nullptr if none does.
  const Binding* BindingOf(absl::string_view caller) const;
  // The first generic rule allowing `in` (`allowed_by` set) or the denial. `pinned_call_only`:
  // only rules with a function_signature whose matchers pin every argument count.
  Decision MatchGenericRule(const TxIntent& in, const Binding* binding, bool pinned_call_only = false) const;
  // kAddComposeHash and kManageDevices: the app contract is allowed on the chain.
  static Decision CheckAppContract(const Chain& c, const TxIntent& in);
  absl::flat_hash_map<uint64_t, Chain> chains_;
  std::vector<GenericRule> generic_;
  KeyLimits default_limits_;
  absl::flat_hash_map<chain::Address, KeyLimits> key_limits_;
  bool messages_enabled_ = false;
  absl::flat_hash_set<chain::Address> message_keys_;
  uint32_t max_message_bytes_ = 4096;
  std::vector<Binding> bindings_;
  absl::flat_hash_map<std::string, size_t> binding_of_identity_;
  std::string fingerprint_;
};

// Loads a policy file (text proto, or JSON if the name ends in .json) and compiles it. Logs a
// warning naming what to add when the policy binds no callers.
absl::StatusOr<std::shared_ptr<const CompiledPolicy>> LoadPolicyFile(const std::string& path);

// Strict wei / fee decimal: digits only, no leading zeros except "0", at most 78 digits, < 2^256.
absl::StatusOr<chain::U256> ParseWei(absl::string_view text);

}  // namespace signer::policy

#endif  // ONCHAIN_KMS_SIGNER_POLICY_POLICY_H_
