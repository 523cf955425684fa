// Signing with the journal in front of the signer.
//
// Every signature request is written to the journal (artifact "<step>/intent/<nonce>/<fees>")
// before it reaches the signer, and every signed transaction (all versions of its nonce) is
// written ("<step>/tx", a chain::onchain::TxJournal) before it is broadcast. A crash between the
// signer's answer and that second write is repaired on restart by asking the signer again for
// exactly the same transaction: the signer answers REPEAT with the same bytes (signing is
// deterministic), where a fresh request with other fees for the same nonce would be refused as
// equivocation. The repair asks with only_if_signed: a request the signer never signed (it died
// before the signer saw it, or a batch did not start it) gets NOT_FOUND and is dropped, and the
// step signs afresh; signing it late at its old nonce could leave a refused nonce below it empty.
//
// Until such a repair has happened, no other operation may take a nonce of the same sender on
// the same chain (it could take the unbroadcast nonce, and the signer would refuse it): the
// sender is "gated" and other operations' requests fail with UNAVAILABLE (they retry). Signed but
// unmined transactions of unfinished steps are adopted into the nonce allocators at start-up for
// the same reason.
//
// With several replicas on PostgreSQL (a journal::StepNonces, design § 5.6) the nonce store does
// both writes instead: the allocator records each request under the sender's hold before the
// signer sees it and stores each signed version before any broadcast, and repairs orphaned
// requests of any replica first. Then nothing is written as artifacts, nothing is gated (the
// nonce is chosen from the database, where a reserved one cannot be taken again), and Recover
// reads the step's newest slot from the store, so a resumed operation on any replica adopts the
// transaction its step recorded instead of signing a new one.
//
// Request ids: every envelope's request_id is "<operation id>/<step>[/...]"; that is how a fee
// bump signed on another operation's thread finds its journal.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_ENGINE_SIGNING_H_
#define ONCHAIN_KMS_ORCHESTRATOR_ENGINE_SIGNING_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "chain/onchain/tx_journal.h"
#include "chain/onchain/tx_signer.h"
#include "orchestrator/engine/flow.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/journal/step_nonces.h"

namespace orchestrator::engine {

class OpContext;

// Connects a running transaction step to its operation while it waits: before each signature
// request of the operation the operation is marked irreversible (so a CancelOperation racing
// with it loses), and each journaled signature is published as step progress (the transaction
// hash, before it is mined). Detached when the step returns; a fee bump signed later (on
// another operation's thread) then only reaches the journal.
class SignHook {
 public:
  SignHook(OpContext* ctx, std::string step) : ctx_(ctx), step_(std::move(step)) {}
  // Before the first signature: the operation is marked irreversible (CancelOperation refused from
  // then on), with `with` (the request's intent) in the same write: true when written so, false
  // when the operation was irreversible already or the hook is detached (nothing written).
  absl::StatusOr<bool> BeforeSign(std::vector<journal::Artifact> with);
  // Journals the step's progress (the newest transaction hash, for watchers while it waits for a
  // block) with `with` (the step's transaction journal) in the same write. False, nothing written,
  // when no operation takes it (the hook is detached, the operation finished): the caller then
  // writes `with` alone. An error when the write failed (nothing written either).
  absl::StatusOr<bool> Signed(const chain::onchain::TxJournal& journal, std::vector<journal::Artifact> with);
  // Who submitted the operation; nullopt once detached.
  std::optional<std::string> Caller();
  void Detach();

 private:
  absl::Mutex mu_;
  OpContext* ctx_ ABSL_GUARDED_BY(mu_);
  const std::string step_;
};

class JournalingSigner final : public chain::onchain::TxSigner {
 public:
  // `nonces`: null for the artifacts in `journal` (one process); else the nonce store shared by
  // the replicas (the same one the nonce allocators use). Both must outlive this object.
  JournalingSigner(chain::onchain::TxSigner& inner, journal::Journal& journal, journal::StepNonces* nonces = nullptr);

  // Whether the caller that submitted an operation may sign with `key` on `chain_id` (the access
  // policy's signer-key grants). Checked on every signature request before anything is journaled
  // or sent to the signer; a refusal (PERMISSION_DENIED naming the grant) fails the step. This is
  // where a key is checked whose chain is learned at run time (an update: from the CVM). Call
  // before the first signature; unset: every key.
  using KeyCheck = std::function<absl::Status(absl::string_view caller, const chain::Address& key, uint64_t chain_id)>;
  void SetKeyCheck(KeyCheck check) { key_check_ = std::move(check); }

  absl::StatusOr<chain::onchain::SignedTx> SignDeployAndRegisterApp(
      const chain::onchain::TxEnvelope& envelope, const chain::Address& kms,
      const chain::DeployAndRegisterAppParams& params) override;
  absl::StatusOr<chain::onchain::SignedTx> SignAddComposeHash(const chain::onchain::TxEnvelope& envelope,
                                                              const chain::Address& app,
                                                              const chain::Hash32& compose_hash) override;
  absl::StatusOr<chain::onchain::SignedTx> SignAppCall(const chain::onchain::TxEnvelope& envelope,
                                                       const chain::Address& app, const chain::AppCall& call) override;
  // Admits each request in order (access policy, gate, operation hook), journals the intents of
  // those admitted (each with its operation's `irreversible` write when that is made now, the
  // others in one write), and signs them in one inner SignBatch. The first refusal stops the later
  // requests (not started: their intents are emptied again before they are renumbered).
  std::vector<absl::StatusOr<chain::onchain::SignedTx>> SignBatch(
      const std::vector<chain::onchain::TxRequest>& requests) override;

  // Persists the transaction journal of a step (the on_signed callback of a transaction step).
  absl::Status SaveTxJournal(absl::string_view operation_id, absl::string_view step,
                             const chain::onchain::TxJournal& journal);

  // The transaction journal of a step, repaired: the journaled versions plus every recorded
  // intent of the same (newest) nonce that they lack, signed again. nullopt when nothing was
  // ever signed for the step. UNAVAILABLE (retry) when the signer cannot be reached. The caller
  // adopts the result into the nonce allocator and then calls ReleaseGates.
  absl::StatusOr<std::optional<chain::onchain::TxJournal>> Recover(absl::string_view operation_id,
                                                                   absl::string_view step);

  // Start-up: for the unfinished steps of an unfinished operation, adopts journaled transactions
  // into the allocators of `chains` and gates the senders of intents that need re-signing.
  void PrepareResume(absl::string_view operation_id, const std::set<std::string>& unfinished_steps,
                     const std::map<uint64_t, ChainBackend>& chains);
  // Drops the gates an operation holds (when it ends).
  void ReleaseGates(absl::string_view operation_id);

  void AttachHook(absl::string_view operation_id, std::shared_ptr<SignHook> hook);
  void DetachHook(absl::string_view operation_id);

 private:
  struct Intent {
    std::string key;  // artifact key
    chain::onchain::TxEnvelope envelope;
    chain::onchain::TxIntent intent;
  };
  struct StepRecords {
    std::optional<chain::onchain::TxJournal> journal;
    std::vector<Intent> uncovered;  // intents of the newest nonce missing from `journal`
  };
  absl::StatusOr<StepRecords> Load(absl::string_view operation_id, absl::string_view step);
  // Recover with the nonce store (signing_stored.cc).
  absl::StatusOr<std::optional<chain::onchain::TxJournal>> RecoverStored(absl::string_view operation_id,
                                                                         absl::string_view step);
  absl::Status CheckGate(const chain::onchain::TxEnvelope& envelope, absl::string_view operation_id);
  absl::Status CheckKey(const chain::onchain::TxEnvelope& envelope, absl::string_view operation_id, SignHook* hook);
  // A request past the checks; its intent (to journal) unless the nonce store keeps requests.
  struct Admitted {
    std::string op, step;
    std::optional<journal::Artifact> intent;
    bool intent_written = false;  // with the operation's `irreversible` write
  };
  // The checks before a request is journaled (access policy, gate), then its operation's hook.
  absl::StatusOr<Admitted> Admit(const chain::onchain::TxRequest& request);
  // The signer's answer to a journaled request: the intent emptied when nothing was signed.
  absl::StatusOr<chain::onchain::SignedTx> Settle(const std::string& op, const std::string& step,
                                                  const chain::onchain::TxEnvelope& envelope,
                                                  absl::StatusOr<chain::onchain::SignedTx> tx);
  absl::StatusOr<chain::onchain::SignedTx> Sign(const chain::onchain::TxEnvelope& envelope,
                                                const chain::onchain::TxIntent& intent);
  absl::StatusOr<chain::onchain::SignedTx> SignInner(const chain::onchain::TxEnvelope& envelope,
                                                     const chain::onchain::TxIntent& intent);

  chain::onchain::TxSigner& inner_;
  journal::Journal& journal_;
  journal::StepNonces* const nonces_;
  KeyCheck key_check_;
  absl::Mutex mu_;
  // (chain id, sender) -> operations that must repair a signature first.
  std::map<std::pair<uint64_t, chain::Address>, std::set<std::string>> gates_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<SignHook>, std::less<>> hooks_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<SignHook> Hook(absl::string_view operation_id);
};

// "<operation id>/<step>" of a request id; empty parts when it has another shape.
std::pair<std::string, std::string> SplitRequestId(absl::string_view request_id);

}  // namespace orchestrator::engine

#endif  // ONCHAIN_KMS_ORCHESTRATOR_ENGINE_SIGNING_H_
