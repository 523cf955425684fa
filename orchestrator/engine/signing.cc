#include "orchestrator/engine/signing.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "chain/dstack_calls.h"
#include "chain/onchain/tx_request.h"
#include "orchestrator/common/crash_points.h"
#include "orchestrator/engine/op_context.h"
#include "orchestrator/engine/status_marks.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace orchestrator::engine {
namespace {

using chain::onchain::SignedTx;
using chain::onchain::TxEnvelope;
using chain::onchain::TxIntent;
using chain::onchain::TxJournal;
using chain::onchain::TxRequest;

std::string IntentKey(absl::string_view step, const TxEnvelope& e) {
  return absl::StrCat(step, "/intent/", absl::StrFormat("%020d", e.nonce), "/", chain::onchain::RequestKey(e));
}

std::string TxKey(absl::string_view step) { return absl::StrCat(step, "/tx"); }

absl::StatusOr<chain::onchain::TxRequest> DecodeIntent(absl::string_view text) {
  absl::StatusOr<chain::onchain::TxRequest> r = chain::onchain::DecodeTxRequest(text);
  if (!r.ok()) return absl::DataLossError(absl::StrCat("journal: ", r.status().message()));
  return r;
}

bool Covers(const SignedTx& v, const TxEnvelope& e) {
  return v.nonce == e.nonce && v.gas_limit == e.gas_limit && v.max_fee_per_gas == e.max_fee_per_gas &&
         v.max_priority_fee_per_gas == e.max_priority_fee_per_gas;
}

}  // namespace

std::pair<std::string, std::string> SplitRequestId(absl::string_view request_id) {
  std::vector<absl::string_view> parts = absl::StrSplit(request_id, '/');
  if (parts.size() < 2 || parts[0].empty() || parts[1].empty()) return {};
  return {std::string(parts[0]), std::string(parts[1])};
}

absl::StatusOr<bool> SignHook::BeforeSign(std::vector<journal::Artifact> with) {
  absl::MutexLock l(&mu_);
  if (ctx_ == nullptr) return false;
  return ctx_->MarkIrreversibleWith(std::move(with));
}

absl::StatusOr<bool> SignHook::Signed(const TxJournal& journal, std::vector<journal::Artifact> with) {
  absl::MutexLock l(&mu_);
  if (ctx_ == nullptr || journal.versions.empty()) return false;
  const std::string hash = journal.newest().hash.Hex();
  const std::string step = step_;
  const std::string detail =
      journal.versions.size() == 1
          ? absl::StrCat("transaction signed (nonce ", journal.nonce, "), sending")
          : absl::StrCat("fee bump ", journal.versions.size() - 1, " signed (nonce ", journal.nonce, "), sending");
  absl::Status s = ctx_->Update(
      [&](v1::Operation& op, state::FlowState&) {
        if (v1::Step* s = FindStep(op, step)) {
          s->set_transaction_hash(hash);
          s->set_detail(detail);
        }
      },
      {Event{v1::OperationEvent::TYPE_STEP_PROGRESS, step, hash, detail}}, std::move(with));
  if (s.ok()) return true;
  // Unavailable, or the operation now runs on another replica: the write failed.
  if (IsJournalUnavailable(s) || journal::IsLeaseLost(s)) return s;
  return false;  // finished or cancelled meanwhile: its record takes nothing more
}

std::optional<std::string> SignHook::Caller() {
  absl::MutexLock l(&mu_);
  if (ctx_ == nullptr) return std::nullopt;
  return ctx_->caller();
}

void SignHook::Detach() {
  absl::MutexLock l(&mu_);
  ctx_ = nullptr;
}

void JournalingSigner::AttachHook(absl::string_view operation_id, std::shared_ptr<SignHook> hook) {
  absl::MutexLock l(&mu_);
  hooks_[std::string(operation_id)] = std::move(hook);
}

void JournalingSigner::DetachHook(absl::string_view operation_id) {
  std::shared_ptr<SignHook> hook;
  {
    absl::MutexLock l(&mu_);
    auto it = hooks_.find(operation_id);
    if (it == hooks_.end()) return;
    hook = std::move(it->second);
    hooks_.erase(it);
  }
  hook->Detach();
}

std::shared_ptr<SignHook> JournalingSigner::Hook(absl::string_view operation_id) {
  absl::MutexLock l(&mu_);
  auto it = hooks_.find(operation_id);
  return it == hooks_.end() ? nullptr : it->second;
}

JournalingSigner::JournalingSigner(chain::onchain::TxSigner& inner, journal::Journal& journal,
                                   journal::StepNonces* nonces)
    : inner_(inner), journal_(journal), nonces_(nonces) {}

absl::Status JournalingSigner::CheckGate(const TxEnvelope& envelope, absl::string_view operation_id) {
  absl::MutexLock l(&mu_);
  auto it = gates_.find({envelope.chain_id, envelope.from});
  if (it == gates_.end()) return absl::OkStatus();
  for (const std::string& holder : it->second) {
    if (holder != operation_id) {
      return absl::UnavailableError(absl::StrCat("signing for ", envelope.from.Checksummed(), " on chain ",
                                                 envelope.chain_id, " waits until operation ", holder,
                                                 " has repaired a signature interrupted by a restart"));
    }
  }
  return absl::OkStatus();
}

absl::Status JournalingSigner::CheckKey(const TxEnvelope& envelope, absl::string_view operation_id, SignHook* hook) {
  if (!key_check_) return absl::OkStatus();
  // The running operation's caller, without reading its record back from the journal.
  std::optional<std::string> caller = hook != nullptr ? hook->Caller() : std::nullopt;
  if (!caller.has_value()) {
    absl::StatusOr<journal::OperationRecord> rec = journal_.Get(operation_id);
    if (!rec.ok()) return rec.status();
    caller = rec->caller;
  }
  absl::Status s = key_check_(*caller, envelope.from, envelope.chain_id);
  if (!s.ok()) {
    platform::log::Warn("signature refused by the access policy",
                        {{"op", std::string(operation_id)}, {"error", std::string(s.message())}});
  }
  return s;
}

absl::StatusOr<JournalingSigner::Admitted> JournalingSigner::Admit(const TxRequest& request) {
  const TxEnvelope& envelope = request.envelope;
  auto [op, step] = SplitRequestId(envelope.request_id);
  if (op.empty()) {
    return absl::InternalError(absl::StrCat("signing request id '", envelope.request_id, "' names no operation"));
  }
  std::shared_ptr<SignHook> hook = Hook(op);
  RETURN_IF_ERROR(CheckKey(envelope, op, hook.get()));
  // With the nonce store the allocator recorded the request there and handles refusals.
  if (nonces_ == nullptr) RETURN_IF_ERROR(CheckGate(envelope, op));
  Admitted a{op, step, std::nullopt, false};
  if (nonces_ == nullptr) {
    a.intent = journal::Artifact{op, IntentKey(step, envelope), chain::onchain::EncodeTxRequest(request)};
  }
  if (hook != nullptr) {
    std::vector<journal::Artifact> with;
    if (a.intent.has_value()) with.push_back(*a.intent);
    ASSIGN_OR_RETURN(a.intent_written, hook->BeforeSign(std::move(with)));
  }
  return a;
}

absl::StatusOr<SignedTx> JournalingSigner::Settle(const std::string& op, const std::string& step,
                                                  const TxEnvelope& envelope, absl::StatusOr<SignedTx> tx) {
  if (tx.ok()) {
    CrashPoint(step, "intent");
    return tx;
  }
  if (nonces_ != nullptr) return tx;
  if (chain::onchain::IsNotStarted(tx.status())) {
    // Renumbered next: the intent at this nonce must go first, or a resume would ask for it.
    CrashPoint(step, "not-started");
    if (absl::Status s = journal_.PutArtifact(op, IntentKey(step, envelope), ""); !s.ok()) return s;
    return tx;
  }
  // Nothing was signed: forget the intent so that a resume does not ask for it again.
  if (chain::onchain::IsDefinitiveRefusal(tx.status())) (void)journal_.PutArtifact(op, IntentKey(step, envelope), "");
  if (absl::IsFailedPrecondition(tx.status())) {
    // Anti-equivocation: another transaction holds this nonce at the signer (e.g. one whose
    // answer was lost and that its operation will repair). Our view of the nonce is stale:
    // retry later rather than fail.
    return absl::UnavailableError(absl::StrCat("nonce ", envelope.nonce, " of ", envelope.from.Checksummed(),
                                               " is taken by another signed transaction: ", tx.status().message()));
  }
  return tx;
}

absl::StatusOr<SignedTx> JournalingSigner::Sign(const TxEnvelope& envelope, const TxIntent& intent) {
  ASSIGN_OR_RETURN(const Admitted a, Admit(TxRequest{envelope, intent}));
  if (a.intent.has_value() && !a.intent_written) {
    RETURN_IF_ERROR(journal_.PutArtifact(a.intent->operation_id, a.intent->key, a.intent->value));
  }
  return Settle(a.op, a.step, envelope, SignInner(envelope, intent));
}

std::vector<absl::StatusOr<SignedTx>> JournalingSigner::SignBatch(const std::vector<TxRequest>& requests) {
  std::vector<absl::StatusOr<SignedTx>> out(requests.size(),
                                            chain::onchain::NotStartedError("an earlier item of this sender failed"));
  // Admitted in order up to the first refusal; the intents not written with their operation's
  // `irreversible` journaled in one write.
  std::vector<Admitted> admitted;
  std::vector<journal::Artifact> rest;
  for (const TxRequest& r : requests) {
    absl::StatusOr<Admitted> a = Admit(r);
    if (!a.ok()) {
      out[admitted.size()] = a.status();
      break;
    }
    if (a->intent.has_value() && !a->intent_written) rest.push_back(*a->intent);
    admitted.push_back(*std::move(a));
  }
  if (absl::Status s = journal_.PutArtifacts(rest); !s.ok()) {
    // Nothing of `rest` journaled: the batch stops at the first of them, as at a refusal; later
    // items whose intent went with their `irreversible` are not started (Settle empties it).
    size_t cut = 0;
    while (!admitted[cut].intent.has_value() || admitted[cut].intent_written) ++cut;
    out[cut] = s;
    for (size_t i = cut + 1; i < admitted.size(); ++i) {
      if (admitted[i].intent_written) {
        out[i] = Settle(admitted[i].op, admitted[i].step, requests[i].envelope,
                        chain::onchain::NotStartedError("an earlier item of this sender failed"));
      }
    }
    admitted.resize(cut);
  }
  if (admitted.empty()) return out;
  const std::vector<TxRequest> started(requests.begin(),
                                       requests.begin() + static_cast<std::ptrdiff_t>(admitted.size()));
  std::vector<absl::StatusOr<SignedTx>> signed_txs = inner_.SignBatch(started);
  for (size_t i = 0; i < started.size(); ++i) {
    absl::StatusOr<SignedTx> tx =
        i < signed_txs.size() ? std::move(signed_txs[i]) : absl::InternalError("the signer answered too few results");
    out[i] = Settle(admitted[i].op, admitted[i].step, started[i].envelope, std::move(tx));
  }
  return out;
}

absl::StatusOr<SignedTx> JournalingSigner::SignInner(const TxEnvelope& envelope, const TxIntent& intent) {
  return intent.SignWith(inner_, envelope);
}

absl::StatusOr<SignedTx> JournalingSigner::SignDeployAndRegisterApp(const TxEnvelope& envelope,
                                                                    const chain::Address& kms,
                                                                    const chain::DeployAndRegisterAppParams& params) {
  return Sign(envelope, TxIntent::Deploy(kms, params));
}

absl::StatusOr<SignedTx> JournalingSigner::SignAddComposeHash(const TxEnvelope& envelope, const chain::Address& app,
                                                              const chain::Hash32& compose_hash) {
  return Sign(envelope, TxIntent::AddComposeHash(app, compose_hash));
}

absl::StatusOr<SignedTx> JournalingSigner::SignAppCall(const TxEnvelope& envelope, const chain::Address& app,
                                                       const chain::AppCall& call) {
  return Sign(envelope, TxIntent::App(app, call));
}

absl::Status JournalingSigner::SaveTxJournal(absl::string_view operation_id, absl::string_view step,
                                             const TxJournal& journal) {
  std::shared_ptr<SignHook> hook = Hook(operation_id);
  if (nonces_ != nullptr) {  // the allocator stored the versions already (before calling this)
    CrashPoint(step, "signed");
    if (hook != nullptr) (void)hook->Signed(journal, {});
    return absl::OkStatus();
  }
  // One write: the transaction's journal rides with the operation's progress write.
  journal::Artifact tx{std::string(operation_id), TxKey(step), journal.Serialize()};
  absl::StatusOr<bool> written = hook != nullptr ? hook->Signed(journal, {tx}) : false;
  if (!written.ok()) return written.status();
  if (!*written) RETURN_IF_ERROR(journal_.PutArtifact(tx.operation_id, tx.key, tx.value));
  CrashPoint(step, "signed");
  return absl::OkStatus();
}

absl::StatusOr<JournalingSigner::StepRecords> JournalingSigner::Load(absl::string_view operation_id,
                                                                     absl::string_view step) {
  StepRecords out;
  absl::StatusOr<std::optional<std::string>> tx = journal_.GetArtifact(operation_id, TxKey(step));
  if (!tx.ok()) return tx.status();
  if (tx->has_value()) {
    absl::StatusOr<TxJournal> j = TxJournal::Parse(**tx);
    if (!j.ok()) return absl::DataLossError(absl::StrCat("journal: ", step, " transaction: ", j.status().message()));
    out.journal = *std::move(j);
  }
  absl::StatusOr<std::map<std::string, std::string>> raw =
      journal_.ListArtifacts(operation_id, absl::StrCat(step, "/intent/"));
  if (!raw.ok()) return raw.status();
  std::vector<Intent> intents;
  uint64_t newest = out.journal.has_value() ? out.journal->nonce : 0;
  for (const auto& [key, value] : *raw) {
    if (value.empty()) continue;  // refused: nothing was signed
    absl::StatusOr<chain::onchain::TxRequest> d = DecodeIntent(value);
    if (!d.ok()) return d.status();
    intents.push_back(Intent{key, d->envelope, d->intent});
    newest = std::max(newest, d->envelope.nonce);
  }
  if (out.journal.has_value() && out.journal->nonce != newest) out.journal.reset();  // superseded by a re-sign
  for (Intent& i : intents) {
    if (i.envelope.nonce != newest) continue;
    bool covered = false;
    if (out.journal.has_value()) {
      for (const SignedTx& v : out.journal->versions) covered = covered || Covers(v, i.envelope);
    }
    if (!covered) out.uncovered.push_back(std::move(i));
  }
  return out;
}

absl::StatusOr<std::optional<TxJournal>> JournalingSigner::Recover(absl::string_view operation_id,
                                                                   absl::string_view step) {
  if (nonces_ != nullptr) return RecoverStored(operation_id, step);
  absl::StatusOr<StepRecords> rec = Load(operation_id, step);
  if (!rec.ok()) return rec.status();
  std::vector<chain::Bytes> raws;
  if (rec->journal.has_value()) {
    for (const SignedTx& v : rec->journal->versions) raws.push_back(v.raw);
  }
  bool repaired = false;
  for (const Intent& i : rec->uncovered) {
    // Only what the signer signed before: an intent it never saw (or a batch did not start) must
    // not be signed now at its old nonce, which a refused request below it may have left a gap
    // under. NOT_FOUND then; the step signs afresh at a nonce the allocator chooses.
    TxEnvelope repair = i.envelope;
    repair.only_if_signed = true;
    absl::StatusOr<SignedTx> tx = chain::onchain::SignIntent(inner_, repair, i.intent);
    if (!tx.ok()) {
      if (chain::onchain::IsDefinitiveRefusal(tx.status())) {
        // Had it been signed, the signer would have answered REPEAT: it never was. Emptied before
        // the step signs afresh, maybe at a lower nonce: left there, it would make the next Load
        // take this nonce for the step's newest and drop the new transaction's journal.
        RETURN_IF_ERROR(journal_.PutArtifact(operation_id, i.key, ""));
        continue;
      }
      return tx.status();
    }
    platform::log::Info("re-obtained a signature interrupted by a restart",
                        {{"op", std::string(operation_id)}, {"step", std::string(step)}, {"tx", tx->hash.Hex()}});
    raws.push_back(tx->raw);
    repaired = true;
  }
  std::optional<TxJournal> out;
  if (!raws.empty()) {
    absl::StatusOr<TxJournal> j = TxJournal::FromVersions(std::move(raws));
    if (!j.ok()) return absl::DataLossError(absl::StrCat("journal: ", step, " transaction: ", j.status().message()));
    out = *std::move(j);
    if (repaired) {
      RETURN_IF_ERROR(journal_.PutArtifact(operation_id, TxKey(step), out->Serialize()));
    }
  }
  return out;
}

void JournalingSigner::PrepareResume(absl::string_view operation_id, const std::set<std::string>& unfinished_steps,
                                     const std::map<uint64_t, ChainBackend>& chains) {
  if (nonces_ != nullptr) return;  // nothing to gate: the store keeps reserved nonces taken
  for (const std::string& step : unfinished_steps) {
    absl::StatusOr<StepRecords> rec = Load(operation_id, step);
    if (!rec.ok()) {
      platform::log::Error(
          "cannot read the transaction records of a step",
          {{"op", std::string(operation_id)}, {"step", step}, {"error", std::string(rec.status().message())}});
      continue;
    }
    if (rec->journal.has_value()) {
      const TxJournal& j = *rec->journal;
      auto it = chains.find(j.chain_id);
      if (it != chains.end() && it->second.ops != nullptr) {
        chain::onchain::NonceAllocator& n = it->second.ops->nonces(j.chain_id, j.from);
        if (n.Adopt(j, nullptr).ok()) n.Release(j.nonce);
      }
    }
    if (!rec->uncovered.empty()) {
      const TxEnvelope& e = rec->uncovered.front().envelope;
      absl::MutexLock l(&mu_);
      gates_[{e.chain_id, e.from}].insert(std::string(operation_id));
      platform::log::Info("sender gated until a signature is repaired",
                          {{"op", std::string(operation_id)}, {"step", step}, {"from", e.from.Checksummed()}});
    }
  }
}

void JournalingSigner::ReleaseGates(absl::string_view operation_id) {
  absl::MutexLock l(&mu_);
  for (auto it = gates_.begin(); it != gates_.end();) {
    it->second.erase(std::string(operation_id));
    it = it->second.empty() ? gates_.erase(it) : std::next(it);
  }
}

}  // namespace orchestrator::engine
