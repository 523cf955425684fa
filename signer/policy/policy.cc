#include "signer/policy/policy.h"

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "chain/dstack_app_calls.h"
#include "chain/hex.h"
#include "crypto/sha256.h"
#include "platform/config_file.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace signer::policy {
namespace {

namespace v1 = onchainkms::signer::v1;

absl::Status Field(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("policy: ", field, ": ", why));
}

absl::StatusOr<chain::Address> ParseAddress(absl::string_view text, absl::string_view field) {
  absl::StatusOr<chain::Address> a = chain::Address::Parse(text);
  if (!a.ok()) return Field(field, a.status().message());
  return a;
}

// Every address of a repeated field into `out`; errors name the element ("<field>[2]").
absl::Status ParseAddresses(const google::protobuf::RepeatedPtrField<std::string>& texts, absl::string_view field,
                            absl::flat_hash_set<chain::Address>& out) {
  for (int j = 0; j < texts.size(); ++j) {
    absl::StatusOr<chain::Address> a = ParseAddress(texts[j], absl::StrCat(field, "[", j, "]"));
    if (!a.ok()) return a.status();
    out.insert(*a);
  }
  return absl::OkStatus();
}

absl::StatusOr<chain::U256> ParseWeiField(absl::string_view text, absl::string_view field) {
  absl::StatusOr<chain::U256> v = ParseWei(text);
  if (!v.ok()) return Field(field, v.status().message());
  return v;
}

absl::StatusOr<KeyLimits> CompileLimits(const v1::KeyLimits& limits, const std::string& prefix) {
  KeyLimits out;
  out.rule_prefix = prefix;
  if (limits.has_rate_limit()) {
    const double rps = limits.rate_limit().requests_per_second();
    if (!(rps > 0) || rps > 1e9) return Field(absl::StrCat(prefix, ".rate_limit.requests_per_second"), "must be > 0");
    if (limits.rate_limit().burst() < 1) return Field(absl::StrCat(prefix, ".rate_limit.burst"), "must be >= 1");
    out.requests_per_second = rps;
    out.burst = limits.rate_limit().burst();
  }
  if (!limits.fee_budget_24h_wei().empty()) {
    absl::StatusOr<chain::U256> budget =
        ParseWeiField(limits.fee_budget_24h_wei(), absl::StrCat(prefix, ".fee_budget_24h_wei"));
    if (!budget.ok()) return budget.status();
    out.fee_budget_24h = *budget;
  }
  if (!limits.value_budget_24h_wei().empty()) {
    absl::StatusOr<chain::U256> budget =
        ParseWeiField(limits.value_budget_24h_wei(), absl::StrCat(prefix, ".value_budget_24h_wei"));
    if (!budget.ok()) return budget.status();
    out.value_budget_24h = *budget;
  }
  return out;
}

// A Caller::JournalKey() (platform/transport/caller.h).
bool IsCallerIdentity(absl::string_view id) {
  if (id == "insecure") return true;
  if (absl::ConsumePrefix(&id, "uid:"))
    return !id.empty() && id.size() <= 10 && absl::c_all_of(id, absl::ascii_isdigit);
  return (absl::ConsumePrefix(&id, "cert:") || absl::ConsumePrefix(&id, "token:")) && !id.empty();
}

// A rule's `name`: required, unique among `names` (the rules of its kind so far).
absl::Status UniqueName(const std::string& name, absl::string_view field, absl::flat_hash_set<std::string>& names) {
  if (name.empty()) return Field(absl::StrCat(field, ".name"), "required");
  if (!names.insert(name).second)
    return Field(absl::StrCat(field, ".name"), absl::StrCat("duplicate name \"", name, "\""));
  return absl::OkStatus();
}

Decision Deny(std::string rule, absl::string_view why) {
  return Decision{absl::PermissionDeniedError(absl::StrCat("denied by policy rule ", rule, ": ", why)),
                  std::move(rule)};
}

}  // namespace

v1::Intent IntentOf(TxIntent::Kind kind) {
  switch (kind) {
    case TxIntent::Kind::kDeployAndRegisterApp:
      return v1::INTENT_DEPLOY_AND_REGISTER_APP;
    case TxIntent::Kind::kAddComposeHash:
      return v1::INTENT_ADD_COMPOSE_HASH;
    case TxIntent::Kind::kGeneric:
      return v1::INTENT_GENERIC_TRANSACTION;
    case TxIntent::Kind::kManageDevices:
      return v1::INTENT_MANAGE_DEVICES;
    case TxIntent::Kind::kManageOwnership:
      return v1::INTENT_MANAGE_OWNERSHIP;
  }
  return v1::INTENT_UNSPECIFIED;
}

absl::StatusOr<chain::U256> ParseWei(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("empty (want a decimal wei amount)");
  if (text.size() > 78) return absl::InvalidArgumentError("more than 78 digits");
  for (char c : text) {
    if (!absl::ascii_isdigit(c))
      return absl::InvalidArgumentError(absl::StrCat("not a decimal number: \"", text, "\""));
  }
  if (text.size() > 1 && text[0] == '0')
    return absl::InvalidArgumentError(absl::StrCat("leading zero in \"", text, "\""));
  absl::StatusOr<chain::U256> v = chain::U256::FromDecimal(text);
  if (!v.ok()) return absl::InvalidArgumentError("does not fit in 256 bits");
  return v;
}

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompiledPolicy::Compile(const v1::Policy& policy) {
  std::shared_ptr<CompiledPolicy> out(new CompiledPolicy());
  RETURN_IF_ERROR(out->CompileChains(policy));
  RETURN_IF_ERROR(out->CompileKeyLimits(policy));
  RETURN_IF_ERROR(out->CompileGenericRules(policy));
  RETURN_IF_ERROR(out->CompileMessageSigning(policy.message_signing()));
  RETURN_IF_ERROR(out->CompileCallers(policy));
  std::string serialized;
  policy.SerializeToString(&serialized);
  const crypto::Sha256Digest digest = crypto::Sha256(absl::string_view(serialized));
  out->fingerprint_ = chain::ToHex(digest, false).substr(0, 16);
  return std::shared_ptr<const CompiledPolicy>(std::move(out));
}

absl::Status CompiledPolicy::CompileChains(const v1::Policy& policy) {
  for (int i = 0; i < policy.chains_size(); ++i) {
    const v1::ChainPolicy& c = policy.chains(i);
    const std::string f = absl::StrCat("chains[", i, "]");
    if (c.chain_id() == 0) return Field(absl::StrCat(f, ".chain_id"), "required, non-zero");
    if (chains_.contains(c.chain_id()))
      return Field(absl::StrCat(f, ".chain_id"), absl::StrCat("duplicate chain id ", c.chain_id()));
    Chain chain;
    chain.chain_id = c.chain_id();
    chain.rule = absl::StrCat("chains[chain_id=", c.chain_id(), "]");
    if (absl::Status s =
            ParseAddresses(c.kms_contract_addresses(), absl::StrCat(f, ".kms_contract_addresses"), chain.factories);
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            ParseAddresses(c.app_contract_addresses(), absl::StrCat(f, ".app_contract_addresses"), chain.apps);
        !s.ok()) {
      return s;
    }
    chain.any_app = c.any_app();
    absl::StatusOr<chain::U256> max_fee =
        ParseWeiField(c.max_fee_per_gas_wei(), absl::StrCat(f, ".max_fee_per_gas_wei"));
    if (!max_fee.ok()) return max_fee.status();
    absl::StatusOr<chain::U256> max_tip =
        ParseWeiField(c.max_priority_fee_per_gas_wei(), absl::StrCat(f, ".max_priority_fee_per_gas_wei"));
    if (!max_tip.ok()) return max_tip.status();
    if (c.max_gas_limit() == 0) return Field(absl::StrCat(f, ".max_gas_limit"), "required, non-zero");
    chain.max_fee = *max_fee;
    chain.max_priority_fee = *max_tip;
    chain.max_gas_limit = c.max_gas_limit();
    chains_.emplace(c.chain_id(), std::move(chain));
  }
  return absl::OkStatus();
}

absl::Status CompiledPolicy::CompileKeyLimits(const v1::Policy& policy) {
  absl::StatusOr<KeyLimits> defaults = CompileLimits(policy.default_key_limits(), "default_key_limits");
  if (!defaults.ok()) return defaults.status();
  default_limits_ = *std::move(defaults);
  for (int i = 0; i < policy.keys_size(); ++i) {
    const std::string f = absl::StrCat("keys[", i, "]");
    absl::StatusOr<chain::Address> a = ParseAddress(policy.keys(i).address(), absl::StrCat(f, ".address"));
    if (!a.ok()) return a.status();
    if (key_limits_.contains(*a)) return Field(absl::StrCat(f, ".address"), "duplicate key");
    absl::StatusOr<KeyLimits> limits =
        CompileLimits(policy.keys(i).limits(), absl::StrCat("keys[address=", a->Checksummed(), "].limits"));
    if (!limits.ok()) return limits.status();
    key_limits_.emplace(*a, *std::move(limits));
  }
  return absl::OkStatus();
}

absl::Status CompiledPolicy::CompileGenericRules(const v1::Policy& policy) {
  absl::flat_hash_set<std::string> names;
  for (int i = 0; i < policy.generic_transaction_rules_size(); ++i) {
    const v1::GenericTransactionRule& r = policy.generic_transaction_rules(i);
    const std::string f = absl::StrCat("generic_transaction_rules[", i, "]");
    RETURN_IF_ERROR(UniqueName(r.name(), f, names));
    GenericRule rule;
    rule.name = r.name();
    rule.rule = absl::StrCat("generic_transaction_rules[name=\"", r.name(), "\"]");
    if (!chains_.contains(r.chain_id())) {
      return Field(absl::StrCat(f, ".chain_id"), absl::StrCat("chain ", r.chain_id(), " has no entry in chains"));
    }
    rule.chain_id = r.chain_id();
    absl::StatusOr<chain::Address> to = ParseAddress(r.to(), absl::StrCat(f, ".to"));
    if (!to.ok()) return to.status();
    rule.to = *to;
    if (!r.selector().empty()) {
      std::array<uint8_t, 4> sel;
      if (absl::Status s =
              chain::FromHexInto(r.selector(), absl::MakeSpan(sel), chain::HexPrefix::kRequired, "selector");
          !s.ok()) {
        return Field(absl::StrCat(f, ".selector"), "want \"0x\" + 8 hex digits");
      }
      rule.selector = sel;
    }
    if (!r.max_value_wei().empty()) {
      absl::StatusOr<chain::U256> v = ParseWeiField(r.max_value_wei(), absl::StrCat(f, ".max_value_wei"));
      if (!v.ok()) return v.status();
      rule.max_value = *v;
    }
    if (absl::Status s = ParseAddresses(r.from_addresses(), absl::StrCat(f, ".from_addresses"), rule.from); !s.ok())
      return s;
    absl::StatusOr<std::optional<CallMatcher>> call = CallMatcher::Compile(r, f);
    if (!call.ok()) return call.status();
    rule.call = *std::move(call);
    if (rule.call.has_value()) rule.selector = rule.call->selector();
    generic_.push_back(std::move(rule));
  }
  return absl::OkStatus();
}

absl::Status CompiledPolicy::CompileMessageSigning(const v1::MessageSigningPolicy& m) {
  messages_enabled_ = m.enabled();
  if (absl::Status s = ParseAddresses(m.from_addresses(), "message_signing.from_addresses", message_keys_); !s.ok())
    return s;
  if (m.max_message_bytes() != 0) {
    if (m.max_message_bytes() > (1u << 20)) return Field("message_signing.max_message_bytes", "at most 1048576");
    max_message_bytes_ = m.max_message_bytes();
  }
  return absl::OkStatus();
}

absl::Status CompiledPolicy::CompileCallers(const v1::Policy& policy) {
  absl::flat_hash_set<std::string> names;
  for (int i = 0; i < policy.callers_size(); ++i) {
    const v1::CallerBinding& c = policy.callers(i);
    const std::string f = absl::StrCat("callers[", i, "]");
    RETURN_IF_ERROR(UniqueName(c.name(), f, names));
    Binding b;
    b.rule = absl::StrCat("callers[name=\"", c.name(), "\"]");
    if (c.identities().empty()) return Field(absl::StrCat(f, ".identities"), "at least one");
    for (int j = 0; j < c.identities_size(); ++j) {
      const std::string fj = absl::StrCat(f, ".identities[", j, "]");
      if (!IsCallerIdentity(c.identities(j))) {
        return Field(fj, absl::StrCat("\"", c.identities(j),
                                      "\" is not a caller identity (\"uid:1000\", \"cert:<name>\", "
                                      "\"token:<name>\" or \"insecure\")"));
      }
      if (!binding_of_identity_.emplace(c.identities(j), bindings_.size()).second)
        return Field(fj, absl::StrCat("\"", c.identities(j), "\" is already bound by another entry"));
    }
    if (c.keys().empty()) return Field(absl::StrCat(f, ".keys"), "at least one");
    RETURN_IF_ERROR(ParseAddresses(c.keys(), absl::StrCat(f, ".keys"), b.keys));
    for (int j = 0; j < c.intents_size(); ++j) {
      if (c.intents(j) == v1::INTENT_UNSPECIFIED) return Field(absl::StrCat(f, ".intents[", j, "]"), "unspecified");
      b.intents.insert(c.intents(j));
    }
    for (int j = 0; j < c.generic_rules_size(); ++j) {
      const std::string fj = absl::StrCat(f, ".generic_rules[", j, "]");
      if (!b.intents.contains(v1::INTENT_GENERIC_TRANSACTION)) return Field(fj, "needs INTENT_GENERIC_TRANSACTION");
      if (absl::c_none_of(generic_, [&](const GenericRule& r) { return r.name == c.generic_rules(j); }))
        return Field(fj, absl::StrCat("no generic_transaction_rules entry is named \"", c.generic_rules(j), "\""));
      b.generic_rules.insert(c.generic_rules(j));
    }
    bindings_.push_back(std::move(b));
  }
  return absl::OkStatus();
}

const CompiledPolicy::Binding* CompiledPolicy::BindingOf(absl::string_view caller) const {
  auto it = binding_of_identity_.find(caller);
  return it == binding_of_identity_.end() ? nullptr : &bindings_[it->second];
}

Decision CompiledPolicy::CheckCaller(absl::string_view caller, const chain::Address& key, v1::Intent intent) const {
  if (!binds_callers()) return Decision{absl::OkStatus(), ""};
  const Binding* b = BindingOf(caller);
  if (b == nullptr) return Deny("callers", absl::StrCat("no binding names the caller \"", caller, "\""));
  if (!b->keys.contains(key)) {
    return Deny(absl::StrCat(b->rule, ".keys"),
                absl::StrCat("caller \"", caller, "\" may not use key ", key.Checksummed()));
  }
  if (!b->intents.contains(intent)) {
    return Deny(absl::StrCat(b->rule, ".intents"),
                absl::StrCat("caller \"", caller, "\" may not use ", v1::Intent_Name(intent)));
  }
  return Decision{absl::OkStatus(), b->rule};
}

bool CompiledPolicy::MayUseKey(absl::string_view caller, const chain::Address& key) const {
  if (!binds_callers()) return true;
  const Binding* b = BindingOf(caller);
  return b != nullptr && b->keys.contains(key);
}

Decision CompiledPolicy::MatchGenericRule(const TxIntent& in, const Binding* binding, bool pinned_call_only) const {
  std::optional<std::array<uint8_t, 4>> selector;
  if (!in.data.empty()) {
    if (in.data.size() < 4) return Deny("generic_transaction_rules", "calldata shorter than a 4-byte selector");
    selector = std::array<uint8_t, 4>{in.data[0], in.data[1], in.data[2], in.data[3]};
  }
  std::string near_rule, near_why;  // a rule that matched chain+to+selector but not the rest
  for (const GenericRule& r : generic_) {
    if (r.chain_id != in.chain_id || r.to != in.to || r.selector != selector) continue;
    if (binding != nullptr && !binding->generic_rules.empty() && !binding->generic_rules.contains(r.name)) {
      near_rule = absl::StrCat(binding->rule, ".generic_rules");
      near_why = absl::StrCat("rule \"", r.name, "\" is not bound to caller \"", in.caller, "\"");
      continue;
    }
    if (!r.from.empty() && !r.from.contains(in.from)) {
      near_rule = absl::StrCat(r.rule, ".from_addresses");
      near_why = absl::StrCat("key ", in.from.Checksummed(), " may not use this rule");
      continue;
    }
    if (pinned_call_only && !r.call.has_value()) {
      near_rule = absl::StrCat(r.rule, ".function_signature");
      near_why = "SignAppCall's ownership and upgrade calls need a rule with a function_signature";
      continue;
    }
    if (pinned_call_only && !r.call->PinsEveryArgument()) {
      near_rule = absl::StrCat(r.rule, ".arguments");
      near_why = absl::StrCat("the rule must name every argument of ", r.call->signature(),
                              " with equals_any (for transferOwnership: the new owner)");
      continue;
    }
    if (in.value > r.max_value) {
      near_rule = absl::StrCat(r.rule, ".max_value_wei");
      near_why = absl::StrCat("value ", in.value.ToDecimal(), " exceeds ", r.max_value.ToDecimal());
      continue;
    }
    if (r.call.has_value()) {
      if (std::optional<CallMatcher::Mismatch> m = r.call->Check(in.data)) {
        near_rule = absl::StrCat(r.rule, ".", m->field);
        near_why = std::move(m->why);
        continue;
      }
    }
    return Decision{absl::OkStatus(), r.rule};
  }
  if (!near_rule.empty()) return Deny(std::move(near_rule), near_why);
  if (pinned_call_only) {
    absl::StatusOr<chain::AppCall> call = chain::DecodeAppCall(in.data);
    const std::string function = call.ok() ? std::string(chain::AppCallSignature(*call)) : "the call";
    return Deny("generic_transaction_rules",
                absl::StrCat("no rule allows ", function, " on app ", in.to.Checksummed(), " on chain ", in.chain_id,
                             ": it needs an entry with this chain_id and `to`, function_signature \"", function,
                             "\" and equals_any matchers naming its arguments"));
  }
  return Deny("generic_transaction_rules",
              absl::StrCat("no rule allows chain ", in.chain_id, ", to ", in.to.Checksummed(), ", selector ",
                           selector ? chain::ToHex(*selector) : std::string("(none: plain transfer)")));
}

Decision CompiledPolicy::CheckAppContract(const Chain& c, const TxIntent& in) {
  if (in.kind == TxIntent::Kind::kManageDevices) {
    absl::StatusOr<chain::AppCall> call = chain::DecodeAppCall(in.data);
    if (!call.ok() || !chain::IsDeviceCall(*call)) return Deny("intents", "not a device call");  // engine bug
  }
  if (c.any_app) return Decision{absl::OkStatus(), absl::StrCat(c.rule, ".any_app")};
  if (c.apps.contains(in.to)) return Decision{absl::OkStatus(), absl::StrCat(c.rule, ".app_contract_addresses")};
  return Deny(absl::StrCat(c.rule, ".app_contract_addresses"),
              absl::StrCat("app contract ", in.to.Checksummed(), " is not allowed on chain ", in.chain_id));
}

Decision CompiledPolicy::CheckTransaction(const TxIntent& in) const {
  if (Decision bound = CheckCaller(in.caller, in.from, IntentOf(in.kind)); !bound.allowed()) return bound;
  auto it = chains_.find(in.chain_id);
  if (it == chains_.end()) return Deny("chains", absl::StrCat("chain ", in.chain_id, " is not allowed"));
  const Chain& c = it->second;
  std::string allowed_by;
  switch (in.kind) {
    case TxIntent::Kind::kDeployAndRegisterApp:
      if (!c.factories.contains(in.to)) {
        return Deny(absl::StrCat(c.rule, ".kms_contract_addresses"),
                    absl::StrCat("KMS factory ", in.to.Checksummed(), " is not allowed on chain ", in.chain_id));
      }
      allowed_by = absl::StrCat(c.rule, ".kms_contract_addresses");
      break;
    case TxIntent::Kind::kAddComposeHash:
    case TxIntent::Kind::kManageDevices: {
      Decision app = CheckAppContract(c, in);
      if (!app.allowed()) return app;
      allowed_by = std::move(app.rule);
      break;
    }
    case TxIntent::Kind::kManageOwnership: {
      Decision generic = MatchGenericRule(in, binds_callers() ? BindingOf(in.caller) : nullptr, true);
      if (!generic.allowed()) return generic;
      allowed_by = std::move(generic.rule);
      break;
    }
    case TxIntent::Kind::kGeneric: {
      Decision generic = MatchGenericRule(in, binds_callers() ? BindingOf(in.caller) : nullptr);
      if (!generic.allowed()) return generic;
      allowed_by = std::move(generic.rule);
      break;
    }
  }
  if (in.kind != TxIntent::Kind::kGeneric && !in.value.IsZero()) {
    return Deny(allowed_by, "value must be 0 for a contract call");
  }
  if (in.max_fee_per_gas > c.max_fee) {
    return Deny(
        absl::StrCat(c.rule, ".max_fee_per_gas_wei"),
        absl::StrCat("max_fee_per_gas ", in.max_fee_per_gas.ToDecimal(), " exceeds the cap ", c.max_fee.ToDecimal()));
  }
  if (in.max_priority_fee_per_gas > c.max_priority_fee) {
    return Deny(absl::StrCat(c.rule, ".max_priority_fee_per_gas_wei"),
                absl::StrCat("max_priority_fee_per_gas ", in.max_priority_fee_per_gas.ToDecimal(), " exceeds the cap ",
                             c.max_priority_fee.ToDecimal()));
  }
  if (in.gas_limit > c.max_gas_limit) {
    return Deny(absl::StrCat(c.rule, ".max_gas_limit"),
                absl::StrCat("gas_limit ", in.gas_limit, " exceeds the cap ", c.max_gas_limit));
  }
  return Decision{absl::OkStatus(), std::move(allowed_by)};
}

Decision CompiledPolicy::CheckMessage(const chain::Address& from, size_t message_size) const {
  if (!messages_enabled_) return Deny("message_signing.enabled", "message signing is disabled");
  if (!message_keys_.empty() && !message_keys_.contains(from)) {
    return Deny("message_signing.from_addresses", absl::StrCat("key ", from.Checksummed(), " may not sign messages"));
  }
  if (message_size > max_message_bytes_) {
    return Decision{absl::InvalidArgumentError(absl::StrCat("message: ", message_size,
                                                            " bytes, more than message_signing.max_message_bytes (",
                                                            max_message_bytes_, ")")),
                    "message_signing.max_message_bytes"};
  }
  return Decision{absl::OkStatus(),
                  message_keys_.empty() ? "message_signing.enabled" : "message_signing.from_addresses"};
}

const KeyLimits& CompiledPolicy::LimitsFor(const chain::Address& key) const {
  auto it = key_limits_.find(key);
  return it == key_limits_.end() ? default_limits_ : it->second;
}

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> LoadPolicyFile(const std::string& path) {
  v1::Policy policy;
  RETURN_IF_ERROR(platform::LoadConfigFile(path, &policy));
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> out = CompiledPolicy::Compile(policy);
  if (!out.ok()) return absl::Status(out.status().code(), absl::StrCat(path, ": ", out.status().message()));
  if (!(*out)->binds_callers()) {
    platform::log::Warn(
        "the policy binds no callers: every caller the transport admits may use every key for every intent; add "
        "`callers { name: \"...\" identities: \"uid:1000\" keys: \"0x...\" intents: INTENT_ADD_COMPOSE_HASH }` "
        "entries (policy.proto CallerBinding) to bind each caller to its keys and intents",
        {{"policy", path}});
  }
  return out;
}

}  // namespace signer::policy
