#include "signer/engine/engine.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chain/dstack_calls.h"
#include "chain/eip191.h"
#include "chain/hex.h"
#include "chain/keccak.h"
#include "chain/transaction.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"
#include "signer/engine/app_call.h"
#include "signer/engine/request_fields.h"

namespace signer::engine {

namespace v1 = onchainkms::signer::v1;
namespace json = boost::json;
using policy::TxIntent;

// One request in flight: what the audit record and the metrics need at the end.
struct Engine::Request {
  Request() {}  // leaves audit_buffer uninitialised (make_shared would zero it)

  // The audit event's memory: its fields, strings and nested objects live in this buffer (one
  // allocation with the request instead of ~45 of their own; a larger event continues on the
  // heap). The request is on one thread at a time, as the resource requires.
  static constexpr size_t kAuditArena = 3072;
  alignas(std::max_align_t) unsigned char audit_buffer[kAuditArena];
  json::monotonic_resource audit_arena{audit_buffer, kAuditArena};

  std::string method;
  std::string caller;  // Caller::JournalKey(), what the policy's `callers` name
  absl::Time start;
  Done done;
  json::object audit{json::storage_ptr(&audit_arena)};  // the event, filled as the request progresses
  std::string rule;                                     // the rule that decided (allow or deny)
  bool policy_refusal = false;
  bool signed_something = false;
  std::string budget_rule;    // the fee budget's rule, for a refusal by a shared record at commit
  std::string limits_prefix;  // the key's limits, to name the budget a shared record refused
  std::shared_ptr<equivocation::StopAtRefusal> stop_at_refusal;  // its record's (SignCall)
};

struct Engine::Prepared {
  TxIntent intent;
  chain::Eip1559Transaction tx;
  bool only_if_signed = false;  // the request's field: answer only with what was already signed

  // A call to `to` with `data`, in both the intent the policy sees and the transaction signed.
  void SetCall(const chain::Address& to, chain::Bytes data) {
    intent.to = to;
    tx.to = to;
    intent.data = data;
    tx.data = std::move(data);
  }
};

// The common envelope of the three transaction RPCs.
struct Engine::Envelope {
  uint64_t chain_id;
  const std::string* from;
  uint64_t nonce;
  uint64_t gas_limit;
  const std::string* max_fee;
  const std::string* max_tip;
  bool only_if_signed;

  template <typename SignRequest>
  static Envelope Of(const SignRequest& r) {
    return {r.chain_id(),      &r.from_address(),        r.nonce(),
            r.gas_limit(),     &r.max_fee_per_gas_wei(), &r.max_priority_fee_per_gas_wei(),
            r.only_if_signed()};
  }
  absl::Status Parse(TxIntent* intent, chain::Eip1559Transaction* tx) const;
};

namespace {

absl::StatusOr<chain::U256> WeiField(const std::string& text, absl::string_view field, bool empty_is_zero) {
  if (text.empty() && empty_is_zero) return chain::U256();
  absl::StatusOr<chain::U256> v = policy::ParseWei(text);
  if (!v.ok()) return Invalid(field, v.status().message());
  return v;
}

absl::Status RequestIdField(const std::string& id) {
  if (id.empty()) return absl::OkStatus();
  if (id.size() > 128) return Invalid("request_id", "longer than 128 characters");
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != ':' && c != '-') {
      return Invalid("request_id", "only [A-Za-z0-9._:-] allowed");
    }
  }
  return absl::OkStatus();
}

// The key store withheld a signature: its self-check failed (a fault in this machine's memory or
// CPU, or a corrupted library). An operator has to see that, so it is an error in the log; the
// caller and the audit record get the reason (it names no secret).
absl::Status SigningFailed(const std::string& method, const absl::Status& keystore) {
  platform::log::Error("signature withheld", {{"method", method}, {"reason", std::string(keystore.message())}});
  return absl::InternalError(absl::StrCat("signing failed: ", keystore.message()));
}

std::string Outcome(absl::StatusCode code) { return absl::AsciiStrToLower(absl::StatusCodeToString(code)); }

// The deciding rule of an only_if_signed request refused for want of a signature to repeat.
constexpr char kOnlyIfSignedRule[] = "only_if_signed";

// A record that lost its race to another signer replica is classified again at most this often
// (each loss means another replica recorded a newer version of the slot meanwhile).
constexpr int kMaxRaceAttempts = 3;

const char* NonceUseName(equivocation::NonceUse u) {
  switch (u) {
    case equivocation::NonceUse::kFirst:
      return "first";
    case equivocation::NonceUse::kRepeat:
      return "repeat";
    case equivocation::NonceUse::kFeeBump:
      return "fee_bump";
  }
  return "first";
}

void FillSigned(const equivocation::Record& r, equivocation::NonceUse use, v1::SignedTransaction* out) {
  out->set_raw_transaction(chain::ToHex(r.raw));
  out->set_transaction_hash(r.tx_hash.Hex());
  out->set_from_address(r.key.sender.Checksummed());
  out->set_chain_id(r.key.chain_id);
  out->set_nonce(r.key.nonce);
  out->set_to(r.to.Checksummed());
  out->set_value_wei(r.value.ToDecimal());
  out->set_data(chain::ToHex(r.data));
  out->set_gas_limit(r.gas_limit);
  out->set_max_fee_per_gas_wei(r.max_fee_per_gas.ToDecimal());
  out->set_max_priority_fee_per_gas_wei(r.max_priority_fee_per_gas.ToDecimal());
  out->set_nonce_use(static_cast<v1::NonceUse>(static_cast<int>(use)));
  if (use == equivocation::NonceUse::kFeeBump && r.replaced_tx_hash.has_value()) {
    out->set_replaced_transaction_hash(r.replaced_tx_hash->Hex());
  } else {
    out->clear_replaced_transaction_hash();
  }
}

// The 4-byte function selector of a call's data, for the audit record ("" for a plain transfer).
std::string Selector(const chain::Bytes& data) {
  return data.size() >= 4 ? chain::ToHex(chain::ByteView(data).subspan(0, 4)) : std::string("");
}

void AuditEnvelope(const chain::Eip1559Transaction& tx, const chain::Address& from, json::object& a) {
  a["key"] = from.Checksummed();
  a["chain_id"] = tx.chain_id;
  a["nonce"] = tx.nonce;
  a["gas_limit"] = tx.gas_limit;
  a["max_fee_per_gas_wei"] = tx.max_fee_per_gas.ToDecimal();
  a["max_priority_fee_per_gas_wei"] = tx.max_priority_fee_per_gas.ToDecimal();
  a["value_wei"] = tx.value.ToDecimal();
}

equivocation::Candidate CandidateOf(const chain::Eip1559Transaction& tx, const chain::Address& from) {
  equivocation::Candidate c;
  c.key = equivocation::SlotKey{tx.chain_id, from, tx.nonce};
  c.signing_hash = tx.SigningHash();
  c.to = *tx.to;
  c.value = tx.value;
  c.data = tx.data;
  c.gas_limit = tx.gas_limit;
  c.max_fee_per_gas = tx.max_fee_per_gas;
  c.max_priority_fee_per_gas = tx.max_priority_fee_per_gas;
  return c;
}

chain::U256 Cost(uint64_t gas, const chain::U256& fee) {
  absl::StatusOr<chain::U256> c = chain::U256::CheckedMul(chain::U256(gas), fee);
  return c.ok() ? *c : chain::U256::Max();
}

// What a signature adds to the key's 24 h fee budget: its worst-case cost, or for a fee bump
// only what it adds to the version it replaces.
chain::U256 ChargeFor(const chain::Eip1559Transaction& tx, const equivocation::Verdict& verdict) {
  const chain::U256 cost = Cost(tx.gas_limit, tx.max_fee_per_gas);
  if (verdict.kind != equivocation::Verdict::Kind::kFeeBump) return cost;
  absl::StatusOr<chain::U256> diff = chain::U256::CheckedSub(cost, verdict.replaced_cost);
  return diff.ok() ? *diff : chain::U256();
}

// What a signature adds to the key's 24 h value budget: a generic transaction's value, once per
// slot (a fee bump keeps the value of the transaction it replaces).
chain::U256 ValueChargeFor(const chain::Eip1559Transaction& tx, const equivocation::Verdict& verdict) {
  return verdict.kind == equivocation::Verdict::Kind::kFirst ? tx.value : chain::U256();
}

// The record of `tx` (whose signing hash `c` holds) signed with `sig`.
std::shared_ptr<equivocation::Record> RecordOf(equivocation::Candidate c, const chain::Eip1559Transaction& tx,
                                               const chain::RecoverableSignature& sig,
                                               const equivocation::Verdict& verdict, const chain::U256& charge) {
  auto record = std::make_shared<equivocation::Record>();
  static_cast<equivocation::Candidate&>(*record) = std::move(c);
  record->raw = tx.EncodeSigned(sig);
  record->tx_hash = chain::TxHash(record->raw);
  const bool bump = verdict.kind == equivocation::Verdict::Kind::kFeeBump;
  record->nonce_use = bump ? equivocation::NonceUse::kFeeBump : equivocation::NonceUse::kFirst;
  record->slot_version = verdict.slot_version;
  record->replaced_tx_hash = verdict.replaced;
  record->budget_charge = charge;
  record->signed_at = absl::Now();
  return record;
}

}  // namespace

absl::Status Engine::Envelope::Parse(TxIntent* intent, chain::Eip1559Transaction* tx) const {
  if (chain_id == 0) return Invalid("chain_id", "required, non-zero");
  absl::StatusOr<chain::Address> sender = AddressField(*from, "from_address");
  if (!sender.ok()) return sender.status();
  if (gas_limit == 0) return Invalid("gas_limit", "required, non-zero");
  absl::StatusOr<chain::U256> fee = WeiField(*max_fee, "max_fee_per_gas_wei", false);
  if (!fee.ok()) return fee.status();
  absl::StatusOr<chain::U256> tip = WeiField(*max_tip, "max_priority_fee_per_gas_wei", false);
  if (!tip.ok()) return tip.status();
  if (*tip > *fee) return Invalid("max_priority_fee_per_gas_wei", "exceeds max_fee_per_gas_wei");
  intent->chain_id = tx->chain_id = chain_id;
  intent->from = *sender;
  tx->nonce = nonce;
  intent->gas_limit = tx->gas_limit = gas_limit;
  intent->max_fee_per_gas = tx->max_fee_per_gas = *fee;
  intent->max_priority_fee_per_gas = tx->max_priority_fee_per_gas = *tip;
  return absl::OkStatus();
}

absl::Status Engine::ReplayFeeLedger() {
  return d_.store->ForEachSince(absl::Now() - absl::Hours(24), [this](const equivocation::Record& r) {
    d_.usage->Record(r.key.sender, r.signed_at, r.budget_charge, equivocation::ValueCharge(r));
  });
}

std::shared_ptr<Engine::Request> Engine::StartRequest(std::string method,
                                                      absl::FunctionRef<json::object(json::storage_ptr)> caller,
                                                      Done done, const std::string& request_id) {
  auto req = std::make_shared<Request>();
  req->audit.reserve(24);  // a signed transaction's event has ~20 fields: no regrowth
  req->method = std::move(method);
  req->start = absl::Now();
  req->done = std::move(done);
  req->audit["method"] = req->method;
  req->audit["caller"] = caller(req->audit.storage());  // built in the arena: moved, not copied
  if (!request_id.empty()) req->audit["request_id"] = request_id;
  return req;
}

std::shared_ptr<Engine::Request> Engine::StartRequest(std::string method, const Caller& caller, Done done,
                                                      const std::string& request_id) {
  auto req = StartRequest(
      std::move(method), [&](json::storage_ptr sp) { return caller.AuditJson(std::move(sp)); }, std::move(done),
      request_id);
  req->caller = caller.JournalKey();
  return req;
}

absl::Status Engine::Bind(Request& req, const policy::CompiledPolicy& pol, const chain::Address& key,
                          v1::Intent intent) {
  policy::Decision bound = pol.CheckCaller(req.caller, key, intent);
  if (bound.allowed()) return absl::OkStatus();
  req.audit["policy"] = pol.fingerprint();
  req.rule = bound.rule;
  req.policy_refusal = true;
  return bound.status;
}

void Engine::Finish(const std::shared_ptr<Request>& req, absl::Status status) {
  json::object& a = req->audit;
  if (status.ok()) {
    a["decision"] = "allow";
  } else {
    // only_if_signed's NOT_FOUND is a decision of the record, not a malformed request.
    const bool invalid =
        (status.code() == absl::StatusCode::kInvalidArgument || status.code() == absl::StatusCode::kNotFound) &&
        req->rule != kOnlyIfSignedRule;
    // The signer's own failure (a withheld signature, the record store down) decided nothing.
    const bool failed = req->signed_something || status.code() == absl::StatusCode::kInternal ||
                        status.code() == absl::StatusCode::kUnavailable ||
                        status.code() == absl::StatusCode::kDataLoss || status.code() == absl::StatusCode::kUnknown;
    a["decision"] = failed ? "error" : (invalid ? "invalid" : "deny");
    a["code"] = absl::StatusCodeToString(status.code());
    a["reason"] = std::string(status.message());
  }
  if (!req->rule.empty()) a["rule"] = req->rule;
  // Within a group commit's replies (a platform::DeferScope) the batch's records share one
  // write(2), and the request finishes once it ran: never before its record is written.
  d_.audit->AppendThen(a, [this, req, status = std::move(status),
                           audit_start = absl::Now()](absl::StatusOr<std::string> audited) mutable {
    Audited(req, std::move(status), audited.status(), audit_start);
  });
}

void Engine::Audited(const std::shared_ptr<Request>& req, absl::Status status, const absl::Status& audited,
                     absl::Time audit_start) {
  if (d_.metrics != nullptr) d_.metrics->AuditWrite(audited.ok(), absl::Now() - audit_start);
  if (!audited.ok()) {
    platform::log::Error("audit log write failed; withholding the response",
                         {{"method", req->method}, {"error", std::string(audited.message())}});
    if (status.ok())
      status = absl::UnavailableError("the audit log cannot be written; nothing is released, retry later");
  }
  Count(*req, status);
  if (!status.ok() && status.code() != absl::StatusCode::kNotFound &&
      status.code() != absl::StatusCode::kInvalidArgument) {
    platform::log::Info("request refused", {{"method", req->method},
                                            {"code", absl::StatusCodeToString(status.code())},
                                            {"rule", req->rule},
                                            {"reason", std::string(status.message())}});
  }
  req->done(std::move(status));
}

void Engine::Count(const Request& req, const absl::Status& status) {
  if (d_.metrics == nullptr) return;
  d_.metrics->ObserveRequest(req.method, Outcome(status.code()), absl::Now() - req.start);
  if (req.policy_refusal) d_.metrics->PolicyDenial(req.rule);
  if (!status.ok() && req.rule == "anti_equivocation") d_.metrics->EquivocationRefusal(req.method);
  if (!status.ok()) return;
  // Released: a transaction (first, fee_bump or repeat, as audited) or a message signature.
  if (const json::value* use = req.audit.if_contains("nonce_use"); use != nullptr && use->is_string()) {
    d_.metrics->Signed(req.method, std::string(use->as_string()));
  } else if (req.method == "SignMessage") {
    d_.metrics->Signed(req.method, "message");
  }
}

void Engine::RecordRefusedCall(const std::string& peer, const std::string& method, const absl::Status& status) {
  if (!refusals_.Admit(peer)) {  // counted for a summary record
    if (d_.metrics != nullptr) d_.metrics->ObserveRequest(method, Outcome(status.code()), absl::ZeroDuration());
    return;
  }
  auto req = StartRequest(
      method,
      [&](json::storage_ptr sp) {
        return json::object({{"peer", peer}}, std::move(sp));
      },
      [](absl::Status) {});
  Finish(req, status);
}

void Engine::RefuseCall(const Caller& caller, const std::string& method, const absl::Status& status) {
  Finish(StartRequest(method, caller, [](absl::Status) {}), status);
}

void Engine::FillKey(const chain::Address& address, const std::string& label, v1::Key* key) {
  key->set_address(address.Checksummed());
  key->set_label(label);
  key->set_fees_committed_24h_wei(d_.usage->Committed24h(address).ToDecimal());
  const policy::KeyLimits& limits = d_.policy->Get()->LimitsFor(address);
  if (limits.fee_budget_24h.has_value()) key->set_fee_budget_24h_wei(limits.fee_budget_24h->ToDecimal());
}

void Engine::ListKeys(const Caller& caller, const v1::ListKeysRequest&, v1::ListKeysResponse* response, Done done) {
  auto req = StartRequest("ListKeys", caller, std::move(done));
  std::shared_ptr<const policy::CompiledPolicy> pol = d_.policy->Get();
  for (const keystore::KeyInfo& k : d_.keys->List()) {
    if (pol->MayUseKey(req->caller, k.address)) FillKey(k.address, k.label, response->add_keys());
  }
  Finish(req, absl::OkStatus());
}

void Engine::GetKey(const Caller& caller, const v1::GetKeyRequest& request, v1::Key* response, Done done) {
  auto req = StartRequest("GetKey", caller, std::move(done));
  absl::StatusOr<chain::Address> address = AddressField(request.address(), "address");
  if (!address.ok()) return Finish(req, address.status());
  req->audit["key"] = address->Checksummed();
  const bool visible = d_.policy->Get()->MayUseKey(req->caller, *address);  // another's key: as unknown
  for (const keystore::KeyInfo& k : d_.keys->List()) {
    if (visible && k.address == *address) {
      FillKey(k.address, k.label, response);
      return Finish(req, absl::OkStatus());
    }
  }
  Finish(req, absl::NotFoundError(absl::StrCat("key ", address->Checksummed(), " is not held by this signer")));
}

void Engine::SignDeployAndRegisterApp(const Caller& caller, const v1::SignDeployAndRegisterAppRequest& r,
                                      v1::SignedTransaction* out, Done done, StopAtRefusal stop_at_refusal) {
  auto req = StartRequest("SignDeployAndRegisterApp", caller, std::move(done), r.request_id());
  SignCall(req, std::move(stop_at_refusal), r.request_id(), Envelope::Of(r), TxIntent::Kind::kDeployAndRegisterApp, out,
           [&](Prepared& p, json::object& intent) -> absl::Status {
             absl::StatusOr<chain::Address> kms = AddressField(r.kms_contract_address(), "kms_contract_address", false);
             if (!kms.ok()) return kms.status();
             chain::DeployAndRegisterAppParams params;
             absl::StatusOr<chain::Address> owner = AddressField(r.initial_owner(), "initial_owner", false);
             if (!owner.ok()) return owner.status();
             params.initial_owner = *owner;
             params.disable_upgrades = r.disable_upgrades();
             params.allow_any_device = r.allow_any_device();
             absl::StatusOr<chain::Hash32> device = Hash32Field(r.initial_device_id(), "initial_device_id", true);
             if (!device.ok()) return device.status();
             absl::StatusOr<chain::Hash32> compose =
                 Hash32Field(r.initial_compose_hash(), "initial_compose_hash", true);
             if (!compose.ok()) return compose.status();
             params.initial_device_id = *device;
             params.initial_compose_hash = *compose;
             if (r.has_require_tcb_up_to_date()) params.require_tcb_up_to_date = r.require_tcb_up_to_date();
             p.SetCall(*kms, chain::EncodeDeployAndRegisterApp(params));
             intent["kind"] = "deployAndRegisterApp";
             intent["kms_contract"] = kms->Checksummed();
             intent["initial_owner"] = owner->Checksummed();
             intent["disable_upgrades"] = params.disable_upgrades;
             intent["allow_any_device"] = params.allow_any_device;
             intent["initial_device_id"] = device->Hex();
             intent["initial_compose_hash"] = compose->Hex();
             if (params.require_tcb_up_to_date.has_value()) {
               intent["require_tcb_up_to_date"] = *params.require_tcb_up_to_date;
             }
             intent["selector"] = Selector(p.tx.data);
             return absl::OkStatus();
           });
}

void Engine::SignAddComposeHash(const Caller& caller, const v1::SignAddComposeHashRequest& r,
                                v1::SignedTransaction* out, Done done, StopAtRefusal stop_at_refusal) {
  auto req = StartRequest("SignAddComposeHash", caller, std::move(done), r.request_id());
  SignCall(req, std::move(stop_at_refusal), r.request_id(), Envelope::Of(r), TxIntent::Kind::kAddComposeHash, out,
           [&](Prepared& p, json::object& intent) -> absl::Status {
             absl::StatusOr<chain::Address> app = AddressField(r.app_contract_address(), "app_contract_address", false);
             if (!app.ok()) return app.status();
             absl::StatusOr<chain::Hash32> hash = Hash32Field(r.compose_hash(), "compose_hash", false);
             if (!hash.ok()) return hash.status();
             if (hash->IsZero()) return Invalid("compose_hash", "must not be zero");
             p.SetCall(*app, chain::EncodeAddComposeHash(*hash));
             intent["kind"] = "addComposeHash";
             intent["app_contract"] = app->Checksummed();
             intent["compose_hash"] = hash->Hex();
             intent["selector"] = Selector(p.tx.data);
             return absl::OkStatus();
           });
}

void Engine::SignAppCall(const Caller& caller, const v1::SignAppCallRequest& r, v1::SignedTransaction* out, Done done,
                         StopAtRefusal stop_at_refusal) {
  auto req = StartRequest("SignAppCall", caller, std::move(done), r.request_id());
  SignCall(req, std::move(stop_at_refusal), r.request_id(), Envelope::Of(r), TxIntent::Kind::kManageDevices, out,
           [&](Prepared& p, json::object& intent) -> absl::Status {
             absl::StatusOr<ParsedAppCall> parsed = ParseAppCall(r);
             if (!parsed.ok()) return parsed.status();
             p.intent.kind = parsed->kind;  // devices or ownership, by call
             p.SetCall(parsed->app, chain::EncodeAppCall(parsed->call));
             intent = std::move(parsed->audit);
             return absl::OkStatus();
           });
}

void Engine::SignTransaction(const Caller& caller, const v1::SignTransactionRequest& r, v1::SignedTransaction* out,
                             Done done, StopAtRefusal stop_at_refusal) {
  auto req = StartRequest("SignTransaction", caller, std::move(done), r.request_id());
  SignCall(req, std::move(stop_at_refusal), r.request_id(), Envelope::Of(r), TxIntent::Kind::kGeneric, out,
           [&](Prepared& p, json::object& intent) -> absl::Status {
             absl::StatusOr<chain::Address> to = AddressField(r.to(), "to");
             if (!to.ok()) return to.status();
             absl::StatusOr<chain::U256> value = WeiField(r.value_wei(), "value_wei", true);
             if (!value.ok()) return value.status();
             chain::Bytes data;
             if (!r.data().empty()) {
               if (r.data().size() > 2 * 128 * 1024 + 2) return Invalid("data", "longer than 128 KiB");
               absl::StatusOr<chain::Bytes> d = chain::FromHex(r.data(), chain::HexPrefix::kRequired);
               if (!d.ok()) return Invalid("data", d.status().message());
               data = *std::move(d);
             }
             p.intent.value = *value;
             p.tx.value = *value;
             p.SetCall(*to, std::move(data));
             intent["kind"] = "generic";
             intent["to"] = to->Checksummed();
             intent["value_wei"] = value->ToDecimal();
             intent["selector"] = Selector(p.tx.data);
             intent["data_bytes"] = static_cast<uint64_t>(p.tx.data.size());
             intent["data_keccak256"] = chain::Keccak256(p.tx.data).Hex();
             return absl::OkStatus();
           });
}

void Engine::SignCall(std::shared_ptr<Request> req, StopAtRefusal stop_at_refusal, const std::string& request_id,
                      const Envelope& envelope, TxIntent::Kind kind, v1::SignedTransaction* out,
                      absl::FunctionRef<absl::Status(Prepared&, json::object&)> parse_call) {
  req->stop_at_refusal = std::move(stop_at_refusal);
  Prepared p;
  p.intent.kind = kind;
  p.intent.caller = req->caller;
  if (absl::Status s = RequestIdField(request_id); !s.ok()) return Finish(req, s);
  if (absl::Status s = envelope.Parse(&p.intent, &p.tx); !s.ok()) return Finish(req, s);
  json::object intent(req->audit.storage());  // in the request's arena: moved, not copied, below
  if (absl::Status s = parse_call(p, intent); !s.ok()) return Finish(req, s);
  req->audit["intent"] = std::move(intent);
  p.only_if_signed = envelope.only_if_signed;
  if (p.only_if_signed) req->audit["only_if_signed"] = true;
  SignPrepared(req, std::move(p), out);
}

void Engine::SignPrepared(std::shared_ptr<Request> req, Prepared p, v1::SignedTransaction* out) {
  AuditEnvelope(p.tx, p.intent.from, req->audit);
  const chain::Address from = p.intent.from;
  std::shared_ptr<const policy::CompiledPolicy> pol = d_.policy->Get();
  if (absl::Status s = Admit(*req, *pol, p.intent); !s.ok()) return Finish(req, s);
  const equivocation::SlotKey key{p.tx.chain_id, from, p.tx.nonce};
  // Waiting for another request of this nonce holds no thread (the rest runs when it lets go).
  d_.store->AcquireAsync(key, [this, req = std::move(req), p = std::move(p), pol = std::move(pol),
                               out](std::shared_ptr<equivocation::Store::Slot> slot) mutable {
    SignHeld(std::move(req), p, *pol, std::move(slot), out);
  });
}

void Engine::SignHeld(std::shared_ptr<Request> req, const Prepared& p, const policy::CompiledPolicy& pol,
                      std::shared_ptr<equivocation::Store::Slot> slot, v1::SignedTransaction* out) {
  const chain::Address from = p.intent.from;
  const policy::KeyLimits& limits = pol.LimitsFor(from);
  equivocation::Candidate c = CandidateOf(p.tx, from);
  absl::StatusOr<equivocation::Verdict> verdict = d_.store->Classify(*slot, c);
  if (!verdict.ok()) return Finish(req, absl::UnavailableError(verdict.status().message()));
  // Before any charge or signature: an only_if_signed request never reaches RecordAndRelease
  // (nor Reclassify), so it can add no record on any store.
  if (p.only_if_signed && verdict->kind != equivocation::Verdict::Kind::kRepeat && !verdict->unknown) {
    return RefuseNotSignedBefore(std::move(req), *verdict, p.tx.nonce);
  }
  json::object& a = req->audit;
  switch (verdict->kind) {
    case equivocation::Verdict::Kind::kConflict:
      a["nonce_use"] = "conflict";
      a["allowed_by"] = req->rule;
      req->rule = "anti_equivocation";
      return Finish(req, verdict->conflict);
    case equivocation::Verdict::Kind::kRepeat:
      FillSigned(*verdict->repeat, equivocation::NonceUse::kRepeat, out);
      a["nonce_use"] = "repeat";
      a["tx_hash"] = verdict->repeat->tx_hash.Hex();
      return Finish(req, absl::OkStatus());
    case equivocation::Verdict::Kind::kFirst:
    case equivocation::Verdict::Kind::kFeeBump:
      break;
  }
  const chain::U256 charge = ChargeFor(p.tx, *verdict);
  std::string budget_rule;
  absl::StatusOr<uint64_t> charge_id =
      d_.usage->Charge(from, {charge, ValueChargeFor(p.tx, *verdict)}, limits, &budget_rule);
  if (!charge_id.ok()) {
    req->rule = budget_rule;
    req->policy_refusal = true;
    return Finish(req, charge_id.status());
  }
  const absl::Time signing_start = absl::Now();
  // The signing hash the record was classified by (computed once, in CandidateOf).
  absl::StatusOr<chain::RecoverableSignature> sig = d_.keys->SignHash(from, c.signing_hash);
  if (d_.metrics != nullptr) d_.metrics->Signing(req->method, absl::Now() - signing_start);
  if (!sig.ok()) {
    d_.usage->Refund(from, *charge_id);
    return Finish(req, SigningFailed(req->method, sig.status()));
  }
  req->signed_something = true;
  std::shared_ptr<equivocation::Record> record = RecordOf(std::move(c), p.tx, *sig, *verdict, charge);
  record->fee_budget_24h = limits.fee_budget_24h;
  record->value_budget_24h = limits.value_budget_24h;
  record->stop_at_refusal = req->stop_at_refusal;
  req->budget_rule = std::move(budget_rule);
  req->limits_prefix = limits.rule_prefix;
  a["nonce_use"] = NonceUseName(record->nonce_use);
  a["tx_hash"] = record->tx_hash.Hex();
  if (record->nonce_use == equivocation::NonceUse::kFeeBump) a["replaced_tx_hash"] = verdict->replaced->Hex();
  a["fee_charged_wei"] = charge.ToDecimal();
  RecordAndRelease(std::move(req), std::move(record), std::move(slot), *charge_id, out);
}

void Engine::RefuseNotSignedBefore(std::shared_ptr<Request> req, const equivocation::Verdict& verdict, uint64_t nonce) {
  const char* held = "";
  switch (verdict.kind) {
    case equivocation::Verdict::Kind::kConflict:
      held = "; another transaction holds the nonce";
      break;
    case equivocation::Verdict::Kind::kFeeBump:
      held = "; the nonce holds this call at other fees (it would be a fee bump)";
      break;
    case equivocation::Verdict::Kind::kFirst:
    case equivocation::Verdict::Kind::kRepeat:
      break;
  }
  req->audit["nonce_use"] = "not_signed_before";
  req->audit["allowed_by"] = req->rule;
  req->rule = kOnlyIfSignedRule;
  Finish(req,
         absl::NotFoundError(absl::StrCat(
             "not signed before: only_if_signed and no transaction signed for this request at nonce ", nonce, held)));
}

absl::Status Engine::Admit(Request& req, const policy::CompiledPolicy& pol, const TxIntent& intent) {
  // The binding before the key store: a caller learns nothing of keys not bound to it.
  RETURN_IF_ERROR(Bind(req, pol, intent.from, policy::IntentOf(intent.kind)));
  if (!d_.keys->Has(intent.from)) {
    return absl::NotFoundError(
        absl::StrCat("from_address: key ", intent.from.Checksummed(), " is not held by this signer"));
  }
  req.audit["policy"] = pol.fingerprint();
  policy::Decision decision = pol.CheckTransaction(intent);
  req.rule = decision.rule;
  if (!decision.allowed()) {
    req.policy_refusal = decision.status.code() == absl::StatusCode::kPermissionDenied;
    return decision.status;
  }
  policy::Decision rate = d_.usage->TakeRequest(intent.from, pol.LimitsFor(intent.from));
  if (!rate.allowed()) {
    req.rule = rate.rule;
    req.policy_refusal = absl::IsResourceExhausted(rate.status);  // not when a shared bucket is unreachable
    return rate.status;
  }
  return absl::OkStatus();
}

void Engine::RecordAndRelease(std::shared_ptr<Request> req, std::shared_ptr<equivocation::Record> record,
                              std::shared_ptr<equivocation::Store::Slot> slot, uint64_t charge_id,
                              v1::SignedTransaction* out, int attempt) {
  const chain::Address from = record->key.sender;
  d_.store->RecordAsync(*record, [this, req, record, slot, out, from, charge_id, attempt](absl::Status s) mutable {
    if (equivocation::IsNotStarted(s)) {  // an earlier item of its sender was refused at commit
      Unsign(*req, from, charge_id);
      req->audit["allowed_by"] = req->rule;
      req->rule = "stop_sender_at_refusal";
      slot.reset();
      return Finish(req, s);
    }
    if (absl::IsAborted(s) && attempt < kMaxRaceAttempts) {
      return Reclassify(std::move(req), std::move(record), std::move(slot), charge_id, out, attempt + 1);
    }
    if (absl::IsResourceExhausted(s)) {  // the global budget, checked by a shared record at commit
      Unsign(*req, from, charge_id);
      absl::optional<absl::Cord> budget = s.GetPayload(equivocation::kBudgetPayload);
      req->rule = budget ? absl::StrCat(req->limits_prefix, ".", std::string(*budget)) : req->budget_rule;
      req->policy_refusal = true;
      slot.reset();
      return Finish(req, s);
    }
    if (!s.ok()) {
      d_.usage->Refund(from, charge_id);
      req->audit["reason_detail"] = "the signature was not recorded durably and was discarded";
      slot.reset();
      return Finish(req, absl::UnavailableError(absl::StrCat(
                             "cannot record the signature durably (nothing was released): ", s.message())));
    }
    req->signed_something = false;  // recorded: the outcome is a plain allow
    FillSigned(*record, record->nonce_use, out);
    slot.reset();  // the next request for this nonce may now look at the record
    Finish(req, absl::OkStatus());
  });
}

void Engine::Unsign(Request& req, const chain::Address& from, uint64_t charge_id) {
  d_.usage->Refund(from, charge_id);
  req.signed_something = false;
  for (const char* k : {"fee_charged_wei", "tx_hash", "replaced_tx_hash"}) req.audit.erase(k);
}

void Engine::Reclassify(std::shared_ptr<Request> req, std::shared_ptr<equivocation::Record> record,
                        std::shared_ptr<equivocation::Store::Slot> slot, uint64_t charge_id, v1::SignedTransaction* out,
                        int attempt) {
  json::object& a = req->audit;
  a["lost_race"] = true;
  absl::StatusOr<equivocation::Verdict> verdict = d_.store->Classify(*slot, *record);
  if (verdict.ok() && (verdict->kind == equivocation::Verdict::Kind::kFirst ||
                       verdict->kind == equivocation::Verdict::Kind::kFeeBump)) {
    // The same signed bytes as the next version; the charge already taken covers it (it was
    // computed against an older, cheaper replaced transaction or none).
    record->nonce_use = verdict->kind == equivocation::Verdict::Kind::kFeeBump ? equivocation::NonceUse::kFeeBump
                                                                               : equivocation::NonceUse::kFirst;
    record->slot_version = verdict->slot_version;
    record->replaced_tx_hash = verdict->replaced;
    a["nonce_use"] = NonceUseName(record->nonce_use);
    if (verdict->replaced.has_value()) a["replaced_tx_hash"] = verdict->replaced->Hex();
    return RecordAndRelease(std::move(req), std::move(record), std::move(slot), charge_id, out, attempt);
  }
  d_.usage->Refund(record->key.sender, charge_id);
  req->signed_something = false;  // discarded: it never leaves
  a.erase("fee_charged_wei");
  a.erase("replaced_tx_hash");
  if (!verdict.ok()) return Finish(req, absl::UnavailableError(verdict.status().message()));
  if (verdict->kind == equivocation::Verdict::Kind::kRepeat) {
    FillSigned(*verdict->repeat, equivocation::NonceUse::kRepeat, out);
    a["nonce_use"] = "repeat";
    a["tx_hash"] = verdict->repeat->tx_hash.Hex();
    return Finish(req, absl::OkStatus());
  }
  a["nonce_use"] = "conflict";
  a["allowed_by"] = req->rule;
  a.erase("tx_hash");
  req->rule = "anti_equivocation";
  Finish(req, verdict->conflict);
}

void Engine::SignMessage(const Caller& caller, const v1::SignMessageRequest& r, v1::SignMessageResponse* out,
                         Done done) {
  auto req = StartRequest("SignMessage", caller, std::move(done), r.request_id());
  if (absl::Status s = RequestIdField(r.request_id()); !s.ok()) return Finish(req, s);
  absl::StatusOr<chain::Address> from = AddressField(r.from_address(), "from_address");
  if (!from.ok()) return Finish(req, from.status());
  req->audit["key"] = from->Checksummed();
  if (r.message().size() > 2 * (1u << 20) + 2) return Finish(req, Invalid("message", "longer than 1 MiB"));
  absl::StatusOr<chain::Bytes> message = r.message().empty() ? absl::StatusOr<chain::Bytes>(chain::Bytes())
                                                             : chain::FromHex(r.message(), chain::HexPrefix::kRequired);
  if (!message.ok()) return Finish(req, Invalid("message", message.status().message()));
  const chain::Hash32 hash = chain::PersonalMessageHash(*message);
  json::object intent(req->audit.storage());
  intent["kind"] = "personal_sign";
  intent["message_bytes"] = static_cast<uint64_t>(message->size());
  intent["message_hash"] = hash.Hex();
  req->audit["intent"] = std::move(intent);
  if (absl::Status s = Bind(*req, *d_.policy->Get(), *from, v1::INTENT_SIGN_MESSAGE); !s.ok()) return Finish(req, s);
  if (!d_.keys->Has(*from)) {
    return Finish(req, absl::NotFoundError(
                           absl::StrCat("from_address: key ", from->Checksummed(), " is not held by this signer")));
  }
  std::shared_ptr<const policy::CompiledPolicy> pol = d_.policy->Get();
  req->audit["policy"] = pol->fingerprint();
  policy::Decision decision = pol->CheckMessage(*from, message->size());
  req->rule = decision.rule;
  if (!decision.allowed()) {
    req->policy_refusal = decision.status.code() == absl::StatusCode::kPermissionDenied;
    return Finish(req, decision.status);
  }
  policy::Decision rate = d_.usage->TakeRequest(*from, pol->LimitsFor(*from));
  if (!rate.allowed()) {
    req->rule = rate.rule;
    req->policy_refusal = absl::IsResourceExhausted(rate.status);
    return Finish(req, rate.status);
  }
  const absl::Time signing_start = absl::Now();
  absl::StatusOr<chain::RecoverableSignature> sig = d_.keys->SignHash(*from, hash);
  if (d_.metrics != nullptr) d_.metrics->Signing(req->method, absl::Now() - signing_start);
  if (!sig.ok()) return Finish(req, SigningFailed(req->method, sig.status()));
  std::array<uint8_t, 65> rsv = sig->ToBytes();
  rsv[64] = static_cast<uint8_t>(27 + sig->recovery_id);
  out->set_signature(chain::ToHex(rsv));
  out->set_message_hash(hash.Hex());
  out->set_from_address(from->Checksummed());
  Finish(req, absl::OkStatus());
}

}  // namespace signer::engine
