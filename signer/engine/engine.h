// The signing engine: everything between the transport and the key store, for every RPC of
// onchainkms.signer.v1.Signer. Per request, in this order (a refused request signs nothing):
//
//   1. validate the request            -> INVALID_ARGUMENT naming the field
//   2. the caller's binding (callers)  -> PERMISSION_DENIED naming the rule
//      find the key                    -> NOT_FOUND
//   3. build the calldata + tx itself  (a caller cannot smuggle a different call)
//   4. policy (snapshot)               -> PERMISSION_DENIED naming the rule
//   5. per-key rate limit              -> RESOURCE_EXHAUSTED naming the rule
//   6. anti-equivocation (slot held)   -> FAILED_PRECONDITION; a repeat returns the stored tx;
//      only_if_signed and not a repeat -> NOT_FOUND (nothing signed, recorded or charged)
//   7. rolling 24 h fee, value budgets -> RESOURCE_EXHAUSTED naming the rule
//   8. sign, self-verify (recover)
//   9. durable record (group commit)   -> UNAVAILABLE if it fails (nothing released); ABORTED
//      for a SignBatch item left out after a refusal of its sender (equivocation/sender_stop.h)
//  10. audit record                    -> UNAVAILABLE if it fails (fail closed)
//
// Every request, allowed or not, gets exactly one audit record and one metrics observation.
// The completion callback may run on another thread (a group-commit committer, once the record
// is durable, or the store's slot hand-over thread for a request that waited for another one of
// its nonce).
#ifndef ONCHAIN_KMS_SIGNER_ENGINE_ENGINE_H_
#define ONCHAIN_KMS_SIGNER_ENGINE_ENGINE_H_

#include <functional>
#include <string>

#include <boost/json/object.hpp>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "onchainkms/signer/v1/signer.pb.h"
#include "platform/transport/caller.h"
#include "signer/audit/audit_log.h"
#include "signer/engine/refusal_limiter.h"
#include "signer/equivocation/store.h"
#include "signer/keystore/key_store.h"
#include "signer/metrics/metrics.h"
#include "signer/policy/policy_holder.h"
#include "signer/policy/usage_tracker.h"

namespace signer::engine {

struct EngineDeps {
  const keystore::KeyStore* keys = nullptr;
  policy::PolicyHolder* policy = nullptr;
  policy::UsageTracker* usage = nullptr;
  equivocation::Store* store = nullptr;
  audit::AuditLog* audit = nullptr;
  metrics::Metrics* metrics = nullptr;  // optional
};

// Who called (from the transport); the audit log records Caller::AuditJson(), e.g.
// {"transport":"unix","uid":1000,"gid":1000,"pid":42}.
using Caller = ::platform::Caller;
using Done = std::function<void(absl::Status)>;

class Engine {
 public:
  explicit Engine(EngineDeps deps) : d_(deps) {}

  // Replays the fees and values of the last 24 h from the durable record into the usage tracker,
  // so a restart does not reset the budgets. Call once at start-up.
  absl::Status ReplayFeeLedger();

  // An RPC refused before it reached the engine (an unauthorised caller, known only by its gRPC
  // peer): metrics always; an audit record within the limits of refusal_limiter.h, the rest
  // counted in a summary record.
  void RecordRefusedCall(const std::string& peer, const std::string& method, const absl::Status& status);
  // A call of an authorised caller refused as a whole before any of its requests reached the
  // engine (a malformed SignBatch): audited and counted as one request of `method`.
  void RefuseCall(const Caller& caller, const std::string& method, const absl::Status& status);

  void ListKeys(const Caller& caller, const onchainkms::signer::v1::ListKeysRequest& request,
                onchainkms::signer::v1::ListKeysResponse* response, Done done);
  void GetKey(const Caller& caller, const onchainkms::signer::v1::GetKeyRequest& request,
              onchainkms::signer::v1::Key* response, Done done);
  // The transaction RPCs. `stop_at_refusal`: an item of a SignBatch with stop_sender_at_refusal
  // (equivocation/sender_stop.h), whose record its commit leaves out once its sender is stopped
  // (ABORTED, NotStartedError) and whose refusal at commit stops the sender.
  using StopAtRefusal = std::shared_ptr<equivocation::StopAtRefusal>;
  void SignDeployAndRegisterApp(const Caller& caller,
                                const onchainkms::signer::v1::SignDeployAndRegisterAppRequest& request,
                                onchainkms::signer::v1::SignedTransaction* response, Done done,
                                StopAtRefusal stop_at_refusal = nullptr);
  void SignAddComposeHash(const Caller& caller, const onchainkms::signer::v1::SignAddComposeHashRequest& request,
                          onchainkms::signer::v1::SignedTransaction* response, Done done,
                          StopAtRefusal stop_at_refusal = nullptr);
  // SignAppCall: validation and audit form in app_call.h; the policy intent is
  // INTENT_MANAGE_DEVICES or INTENT_MANAGE_OWNERSHIP by call.
  void SignAppCall(const Caller& caller, const onchainkms::signer::v1::SignAppCallRequest& request,
                   onchainkms::signer::v1::SignedTransaction* response, Done done,
                   StopAtRefusal stop_at_refusal = nullptr);
  void SignTransaction(const Caller& caller, const onchainkms::signer::v1::SignTransactionRequest& request,
                       onchainkms::signer::v1::SignedTransaction* response, Done done,
                       StopAtRefusal stop_at_refusal = nullptr);
  void SignMessage(const Caller& caller, const onchainkms::signer::v1::SignMessageRequest& request,
                   onchainkms::signer::v1::SignMessageResponse* response, Done done);

 private:
  struct Prepared;
  struct Request;
  struct Envelope;
  // A request's audit record starts with the method, the caller (its audit form) and the
  // client's request id.
  // `caller` builds the caller's audit object in the storage it is given (the request's arena).
  static std::shared_ptr<Request> StartRequest(std::string method,
                                               absl::FunctionRef<boost::json::object(boost::json::storage_ptr)> caller,
                                               Done done, const std::string& request_id = "");
  static std::shared_ptr<Request> StartRequest(std::string method, const Caller& caller, Done done,
                                               const std::string& request_id = "");
  // The policy's `callers` let the request's caller use `key` for `intent` (sets req's rule).
  static absl::Status Bind(Request& req, const policy::CompiledPolicy& pol, const chain::Address& key,
                           onchainkms::signer::v1::Intent intent);
  // The steps of the three transaction RPCs: the request id and the envelope, the method's own
  // fields (`parse_call` fills the call and the audit record's "intent"), then signing.
  void SignCall(std::shared_ptr<Request> req, StopAtRefusal stop_at_refusal, const std::string& request_id,
                const Envelope& envelope, policy::TxIntent::Kind kind, onchainkms::signer::v1::SignedTransaction* out,
                absl::FunctionRef<absl::Status(Prepared&, boost::json::object& intent)> parse_call);
  // Policy, rate limit, then the slot (SignHeld runs once it is held).
  void SignPrepared(std::shared_ptr<Request> req, Prepared prepared, onchainkms::signer::v1::SignedTransaction* out);
  // Anti-equivocation, fee budget, signature, durable record, with the slot held.
  void SignHeld(std::shared_ptr<Request> req, const Prepared& prepared, const policy::CompiledPolicy& pol,
                std::shared_ptr<equivocation::Store::Slot> slot, onchainkms::signer::v1::SignedTransaction* out);
  // An only_if_signed request whose slot holds no signature of exactly it (`verdict` is not a
  // repeat): NOT_FOUND, nothing signed, recorded or charged.
  void RefuseNotSignedBefore(std::shared_ptr<Request> req, const equivocation::Verdict& verdict, uint64_t nonce);
  // The key is held, the policy allows the intent, the rate limit has room (sets req's rule).
  absl::Status Admit(Request& req, const policy::CompiledPolicy& pol, const policy::TxIntent& intent);
  // Records the signature durably, then releases it (or refunds the budget and refuses).
  // `attempt` counts records that lost a race to another signer replica (ABORTED).
  void RecordAndRelease(std::shared_ptr<Request> req, std::shared_ptr<equivocation::Record> record,
                        std::shared_ptr<equivocation::Store::Slot> slot, uint64_t charge_id,
                        onchainkms::signer::v1::SignedTransaction* out, int attempt = 0);
  // After another replica recorded the slot first: the winner's identical payload is a repeat,
  // a different one is refused, a bump still 10% above the new highest is recorded as the next
  // version. The signature computed here leaves only in that last case.
  void Reclassify(std::shared_ptr<Request> req, std::shared_ptr<equivocation::Record> record,
                  std::shared_ptr<equivocation::Store::Slot> slot, uint64_t charge_id,
                  onchainkms::signer::v1::SignedTransaction* out, int attempt);
  // A signature that is not recorded: its charge refunded, its audit fields of a signature gone.
  void Unsign(Request& req, const chain::Address& from, uint64_t charge_id);
  // Audits the request, then (Audited) counts it and hands `status` to its caller.
  void Finish(const std::shared_ptr<Request>& req, absl::Status status);
  // Its audit record written (`audited`), or not: then nothing is released (UNAVAILABLE).
  void Audited(const std::shared_ptr<Request>& req, absl::Status status, const absl::Status& audited,
               absl::Time audit_start);
  // The metrics of a finished request (Finish), `status` being what the caller gets.
  void Count(const Request& req, const absl::Status& status);
  void FillKey(const chain::Address& address, const std::string& label, onchainkms::signer::v1::Key* key);

  EngineDeps d_;
  RefusalLimiter refusals_{d_.audit};  // destroyed first: writes the last summaries
};

}  // namespace signer::engine

#endif  // ONCHAIN_KMS_SIGNER_ENGINE_ENGINE_H_
