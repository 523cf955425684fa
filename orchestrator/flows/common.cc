#include "orchestrator/flows/common.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "chain/dstack_app_views.h"
#include "chain/hex.h"
#include "cloudapi/compose_hash.h"
#include "cloudapi/env_encryption.h"
#include "orchestrator/engine/signing.h"
#include "orchestrator/engine/status_marks.h"
#include "orchestrator/flows/owner_action.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace orchestrator::flows {
namespace {

// Runs a transaction with the step's journal: repairs/adopts what an earlier run signed, keeps
// the operation's hook attached while waiting.
template <typename Fn>
auto RunTx(OpContext& ctx, StepRun& run, const engine::ChainBackend& chain, const chain::Address& sender, Fn&& fn)
    -> decltype(fn(std::declval<chain::onchain::RunControl&>())) {
  if (run.before() != engine::BeforeEffect::kTransaction) {
    return absl::InternalError(absl::StrCat("step ", run.name(), " sends a transaction it does not declare"));
  }
  engine::JournalingSigner* signer = ctx.deps().signer;
  if (signer == nullptr) return absl::FailedPreconditionError("no signer is configured");
  const std::string op = ctx.id();
  const std::string step = run.name();
  absl::StatusOr<std::optional<chain::onchain::TxJournal>> recovered = signer->Recover(op, step);
  if (!recovered.ok()) return recovered.status();
  chain::onchain::RunControl control;
  control.call = ctx.Call(chain.receipt_timeout);
  control.on_signed = [signer, op, step](const chain::onchain::TxJournal& j) {
    return signer->SaveTxJournal(op, step, j);
  };
  if (recovered->has_value()) {
    const chain::onchain::TxJournal& j = **recovered;
    if (j.chain_id != chain.chain_id || j.from != sender) {
      return absl::DataLossError(absl::StrCat("journal: the transaction of ", step, " belongs to chain ", j.chain_id,
                                              " sender ", j.from.Checksummed()));
    }
    // Known to the allocator before the gate opens, so no other operation takes its nonce.
    chain::onchain::NonceAllocator& nonces = chain.ops->nonces(chain.chain_id, sender);
    RETURN_IF_ERROR(nonces.Adopt(j, control.on_signed));
    nonces.Release(j.nonce);
    control.resume = j;
    platform::log::Info("resuming a journaled transaction",
                        {{"op", op}, {"step", step}, {"tx", j.newest().hash.Hex()}, {"nonce", absl::StrCat(j.nonce)}});
    (void)run.Progress(absl::StrCat("resuming transaction ", j.newest().hash.Hex(), " (nonce ", j.nonce, ")"),
                       j.newest().hash.Hex());
  }
  signer->ReleaseGates(op);
  auto hook = std::make_shared<engine::SignHook>(&ctx, step);
  signer->AttachHook(op, hook);
  auto result = fn(control);
  signer->DetachHook(op);
  return result;
}

}  // namespace

state::KmsInfo ToState(const cloudapi::KmsInfo& k) {
  state::KmsInfo s;
  s.set_id(k.id);
  s.set_slug(k.slug.value_or(""));
  s.set_url(k.url);
  s.set_version(k.version);
  s.set_chain_id(k.chain_id.has_value() && *k.chain_id > 0 ? static_cast<uint64_t>(*k.chain_id) : 0);
  s.set_kms_contract_address(ToField(k.kms_contract_address));
  s.set_gateway_app_id(k.gateway_app_id.value_or(""));
  return s;
}

state::Cvm ToState(const cloudapi::CvmInfo& info) {
  state::Cvm c;
  c.set_id(info.id);
  c.set_name(info.name);
  c.set_app_id(ToField(info.app_id));
  c.set_kms_type(info.kms_type.value_or(""));
  if (info.kms_info.has_value()) {
    const cloudapi::CvmKmsInfo& k = *info.kms_info;
    c.set_chain_id(k.chain_id.has_value() && *k.chain_id > 0 ? static_cast<uint64_t>(*k.chain_id) : 0);
    c.set_app_contract_address(ToField(k.dstack_app_address));
    c.set_kms_contract_address(ToField(k.dstack_kms_address));
    c.set_encrypted_env_pubkey(k.encrypted_env_pubkey.value_or(""));
  }
  c.set_compose_hash(ToField(info.compose_hash));
  return c;
}

absl::StatusOr<chain::Hash32> ServiceComposeHash(const boost::json::object& app_compose) {
  absl::StatusOr<std::string> hex = cloudapi::ComposeHash(app_compose, cloudapi::ComposeHashForm::kIndented);
  if (!hex.ok()) return hex.status();
  return chain::Hash32::FromHex(*hex);
}

absl::Status CheckComposeHash(OpContext& ctx, absl::string_view what, const chain::Hash32& api_hash,
                              const chain::Hash32& expected_hash) {
  if (api_hash == expected_hash) return absl::OkStatus();
  const std::string msg = absl::StrCat("compose hash mismatch on ", what, ": the Phala Cloud API returned ",
                                       api_hash.Hex(), ", but the app compose we sent hashes to ", expected_hash.Hex(),
                                       " (service form); nothing was signed or committed");
  if (ctx.deps().options.compose_hash_warn_only) {
    platform::log::Warn("compose hash mismatch (compose_hash_check_warn_only: using the API's hash)",
                        {{"op", ctx.id()}, {"api", api_hash.Hex()}, {"computed", expected_hash.Hex()}});
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(msg);
}

absl::StatusOr<const engine::ChainBackend*> ChainFor(OpContext& ctx, uint64_t chain_id, bool check_rpc) {
  if (chain_id == 0) return absl::FailedPreconditionError("the KMS reports no chain id");
  auto it = ctx.deps().chains.find(chain_id);
  if (it == ctx.deps().chains.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the KMS is on chain ", chain_id, ", which this orchestrator is not configured for (chains)"));
  }
  const engine::ChainBackend* b = &it->second;
  if (check_rpc) {
    absl::StatusOr<uint64_t> id = b->rpc->ChainId(ctx.Call(absl::Seconds(30)));
    if (!id.ok()) {
      return absl::Status(id.status().code(), absl::StrCat("chain ", chain_id, " RPC: ", id.status().message()));
    }
    if (*id != chain_id) {
      return absl::FailedPreconditionError(absl::StrCat("the RPC endpoint of chain ", chain_id, " serves chain ", *id,
                                                        ": the KMS's chain and the RPC's differ"));
    }
  }
  return b;
}

absl::StatusOr<state::EnvPubkey> FetchEnvPubkey(OpContext& ctx, absl::string_view kms_ref, absl::string_view app_id,
                                                const std::vector<std::string>& trust_names) {
  cloudapi::PubkeyVerification verification;
  const auto& trusted = ctx.deps().options.trusted_kms_signers;
  for (const std::string& name : trust_names) {
    if (name.empty()) continue;
    if (auto it = trusted.find(name); it != trusted.end()) {
      verification.trusted_signer = it->second;
      break;
    }
  }
  absl::StatusOr<cloudapi::AppEnvEncryptPubkey> key =
      ctx.deps().cloud->GetAppEnvEncryptPubkey(kms_ref, app_id, verification);
  if (!key.ok()) return key.status();
  state::EnvPubkey out;
  out.set_public_key(chain::ToHex(chain::ByteView(key->public_key.data(), key->public_key.size()), /*prefix=*/false));
  if (key->signer.has_value()) out.set_signer(chain::ToHex(chain::ByteView(key->signer->data(), key->signer->size())));
  out.set_verified(key->verified);
  return out;
}

absl::Status EncryptEnvStep(OpContext& ctx, StepRun& run, absl::string_view public_key, bool encrypt_empty) {
  const state::FlowState st = ctx.State();
  if (st.env_encrypted()) return absl::OkStatus();
  std::optional<std::string> ciphertext;
  if (st.needs_env_values()) {
    absl::StatusOr<std::optional<std::string>> c = ctx.EncryptEnvValues(public_key);
    if (!c.ok()) return c.status();
    if (!c->has_value()) {
      return ctx.WaitForInput(run.name(),
                              "the env var values were lost in a restart before they were encrypted; send them "
                              "again with SupplyEnvVars (or retry the original request)");
    }
    ciphertext = **c;
  } else if (encrypt_empty) {
    absl::StatusOr<std::string> c = cloudapi::EncryptEnvVars({}, public_key);
    if (!c.ok()) return c.status();
    ciphertext = *c;
  }
  absl::Status s = run.Succeed(
      [&](v1::Operation&, state::FlowState& st) {
        st.set_env_encrypted(true);
        if (ciphertext.has_value()) st.set_encrypted_env(*ciphertext);
      },
      ciphertext.has_value() ? absl::StrCat(st.env_keys_size(), " env var(s) encrypted to the app's key")
                             : "no env vars");
  if (s.ok()) ctx.ForgetEnvValues();
  return s;
}

absl::StatusOr<chain::Address> SignerKey(OpContext& ctx) {
  const state::FlowState st = ctx.State();
  if (st.signer_key_address().empty()) {
    return absl::FailedPreconditionError(
        "no signer key: the request names none (signer_key_address) and the config has no "
        "default_signer_key_address");
  }
  return AddressField("signer_key_address", st.signer_key_address());
}

absl::StatusOr<chain::onchain::DeployAppAuthResult> RunDeployAppAuth(OpContext& ctx, StepRun& run,
                                                                     const engine::ChainBackend& chain,
                                                                     chain::onchain::DeployAppAuthRequest request) {
  request.request_id = absl::StrCat(ctx.id(), "/", run.name());
  return RunTx(ctx, run, chain, request.sender,
               [&](chain::onchain::RunControl& control) { return chain.ops->DeployAppAuth(request, control); });
}

absl::StatusOr<chain::onchain::AddComposeHashResult> RunAddComposeHash(OpContext& ctx, StepRun& run,
                                                                       const engine::ChainBackend& chain,
                                                                       chain::onchain::AddComposeHashRequest request) {
  request.request_id = absl::StrCat(ctx.id(), "/", run.name());
  return RunTx(ctx, run, chain, request.sender,
               [&](chain::onchain::RunControl& control) { return chain.ops->AddComposeHash(request, control); });
}

absl::StatusOr<chain::onchain::MinedTx> RunAppCall(OpContext& ctx, StepRun& run, const engine::ChainBackend& chain,
                                                   chain::onchain::AppCallRequest request) {
  request.request_id = absl::StrCat(ctx.id(), "/", run.name());
  return RunTx(ctx, run, chain, request.sender,
               [&](chain::onchain::RunControl& control) { return chain.ops->SendAppCall(request, control); });
}

namespace {

absl::StatusOr<bool> ComposeHashAllowed(OpContext& ctx, const engine::ChainBackend& chain, const chain::Address& app,
                                        const chain::Hash32& hash) {
  ASSIGN_OR_RETURN(const chain::Bytes word,
                   chain.rpc->EthCall({.to = app, .data = chain::EncodeAllowedComposeHashesView(hash)},
                                      chain::jsonrpc::BlockId::Latest(), ctx.Call(absl::Seconds(15))));
  absl::StatusOr<bool> allowed = chain::DecodeBoolResult(chain::kAllowedComposeHashesSignature, word);
  if (!allowed.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("app ", app.Checksummed(), ": ", allowed.status().message()));
  }
  return *allowed;
}

absl::Status SucceedRegistration(StepRun& run, const state::Registration& reg, absl::string_view detail) {
  return run.Succeed(
      [&](v1::Operation& op, state::FlowState& st) {
        *st.mutable_registration() = reg;
        if (v1::Step* s = engine::FindStep(op, run.name())) {
          s->set_transaction_hash(reg.transaction_hash());
          s->set_block_number(reg.block_number());
        }
        if (op.has_update() || op.kind() != v1::OPERATION_KIND_ADD_COMPOSE_HASH) {
          op.mutable_update()->set_register_transaction_hash(reg.transaction_hash());
          op.mutable_update()->set_register_block_number(reg.block_number());
          op.mutable_update()->set_compose_hash_already_registered(reg.already_registered());
          op.mutable_update()->set_registered_by_owner(reg.by_owner());
        }
      },
      detail);
}

// The owner, not a signer key, sends addComposeHash: the operation waits for it (owner_action.h).
absl::Status RegisterByOwner(OpContext& ctx, StepRun& run, const engine::ChainBackend& chain, const chain::Address& app,
                             const chain::Hash32& compose_hash, const chain::Address& owner) {
  OwnerCall call;
  call.chain_id = chain.chain_id;
  call.to = app;
  call.data = chain::EncodeAddComposeHash(compose_hash);
  call.owner = owner;
  call.function_signature = chain::kAddComposeHashSignature;
  call.compose_hash = compose_hash;
  call.event = EventWithData(chain::ComposeHashAddedTopic(), chain::ByteView(compose_hash.bytes()));
  ASSIGN_OR_RETURN(const OwnerTx tx, WaitForOwner(ctx, run, chain, call));
  state::Registration reg;
  reg.set_chain_id(chain.chain_id);
  reg.set_app_contract_address(ToField(app));
  reg.set_compose_hash(ToField(compose_hash));
  reg.set_sender(ToField(tx.owner));
  reg.set_transaction_hash(ToField(tx.transaction_hash));
  reg.set_block_number(tx.block_number);
  reg.set_by_owner(true);
  return SucceedRegistration(run, reg, absl::StrCat("registered by the owner in block ", tx.block_number));
}

}  // namespace

absl::Status RegisterComposeHashStep(OpContext& ctx, StepRun& run, uint64_t chain_id, const chain::Address& app,
                                     const chain::Hash32& compose_hash) {
  ASSIGN_OR_RETURN(const engine::ChainBackend* backend, ChainFor(ctx, chain_id, /*check_rpc=*/true));
  if (WaitsForOwner(ctx.State(), run.name())) return RegisterByOwner(ctx, run, *backend, app, compose_hash, {});
  absl::StatusOr<chain::Address> sender = SignerKey(ctx);
  ASSIGN_OR_RETURN(const chain::Address owner, ReadAppOwner(ctx, *backend, app));
  if (!sender.ok() || owner != *sender) {
    ASSIGN_OR_RETURN(const bool may_send, SignerMaySend(ctx, owner, chain_id));
    if (!may_send) {
      ASSIGN_OR_RETURN(const bool allowed, ComposeHashAllowed(ctx, *backend, app, compose_hash));
      if (!allowed) return RegisterByOwner(ctx, run, *backend, app, compose_hash, owner);
      // Allowed already (the owner acted before): the owner is the sender of the earlier
      // transaction that the path below finds; nothing is signed.
      sender = owner;
    }
  }
  if (!sender.ok()) return sender.status();
  chain::onchain::AddComposeHashRequest req;
  req.chain_id = chain_id;
  req.app = app;
  req.sender = *sender;
  req.compose_hash = compose_hash;
  absl::StatusOr<chain::onchain::AddComposeHashResult> r = RunAddComposeHash(ctx, run, *backend, req);
  if (!r.ok()) return r.status();
  if (r->already_allowed && !r->tx_hash.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("compose hash ", compose_hash.Hex(), " is already allowed by ",
                                                      app.Checksummed(),
                                                      " but no ComposeHashAdded log was found to prove it to the API"));
  }
  state::Registration reg;
  reg.set_chain_id(chain_id);
  reg.set_app_contract_address(ToField(app));
  reg.set_compose_hash(ToField(compose_hash));
  reg.set_sender(ToField(*sender));
  if (r->tx_hash.has_value()) reg.set_transaction_hash(ToField(*r->tx_hash));
  reg.set_block_number(r->block_number);
  reg.set_already_registered(r->already_allowed);
  const std::string detail = r->already_allowed
                                 ? absl::StrCat("already allowed on chain (by ", reg.transaction_hash(), ")")
                                 : absl::StrCat("mined in block ", r->block_number);
  return SucceedRegistration(run, reg, detail);
}

absl::StatusOr<cloudapi::CvmInfo> ReadCvm(OpContext& ctx, absl::string_view cvm_id) {
  absl::StatusOr<cloudapi::CvmRef> ref = CvmRefFor(cvm_id);
  if (!ref.ok()) return ref.status();
  return ctx.deps().cloud->GetCvmInfo(*ref);
}

}  // namespace orchestrator::flows
