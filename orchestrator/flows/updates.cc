// UPDATE_ENV_VARS, UPDATE_DOCKER_COMPOSE, UPDATE_COMPOSE_FILE and ADD_COMPOSE_HASH.
//
// Env vars and docker-compose (one call, or two phases):
//   get_cvm -> [get_env_pubkey -> encrypt_env] -> update -> (465) register_compose_hash ->
//   confirm_update (the same call with the proof: body fields for env vars, X- headers for the
//   docker-compose file). Before anything is signed, the compose hash of the 465 answer must be
//   the hash of the app compose we expect the change to produce.
// Compose file: get_compose_file -> provision_update -> register_compose_hash (unless the API
//   says it is registered) -> [get_env_pubkey -> encrypt_env] -> commit_update.
#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <variant>

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chain/hex.h"
#include "cloudapi/wire.h"
#include "orchestrator/engine/step_table.h"
#include "orchestrator/flows/common.h"
#include "orchestrator/flows/flows.h"
#include "orchestrator/flows/ownership.h"
#include "orchestrator/flows/wait_running.h"
#include "platform/status_macros.h"

namespace orchestrator::flows {

namespace json = boost::json;

absl::Status GetCvmStep(OpContext& ctx, StepRun& run, absl::string_view cvm_id, bool need_compose) {
  absl::StatusOr<cloudapi::CvmRef> ref = CvmRefFor(cvm_id);
  if (!ref.ok()) return ref.status();
  absl::StatusOr<cloudapi::CvmInfo> info = ctx.deps().cloud->GetCvmInfo(*ref);
  if (!info.ok()) return info.status();
  if (!info->app_id.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("CVM ", cvm_id, " has no app id"));
  }
  state::Cvm c = ToState(*info);
  RETURN_IF_ERROR(CheckCvmAppInScope(ctx, c, cvm_id));
  if (need_compose) {
    absl::StatusOr<cloudapi::AppCompose> compose = ctx.deps().cloud->GetCvmComposeFile(*ref);
    if (!compose.ok()) return compose.status();
    c.set_app_compose_json(json::serialize(compose->ToJson()));
  }
  return run.Succeed(
      [&](v1::Operation& op, state::FlowState& st) {
        *st.mutable_cvm() = c;
        if (op.kind() != v1::OPERATION_KIND_ADD_COMPOSE_HASH && op.kind() != v1::OPERATION_KIND_UPDATE_APP_CONTRACT) {
          op.mutable_update()->set_cvm_id(c.id());
        }
      },
      absl::StrCat("CVM ", c.id(), " app ", c.app_id(),
                   c.chain_id() != 0 ? absl::StrCat(" on chain ", c.chain_id()) : std::string(" (off-chain KMS)")));
}

namespace {

using engine::BeforeEffect;
using engine::Step;
using engine::StepTable;
using SkipWhen = std::function<std::optional<std::string>(const state::FlowState&)>;

// ---------------------------------------------------------------------------------------------
// Step bodies shared by the update flows.

absl::Status EnvPubkeyStep(OpContext& ctx, StepRun& run) {
  const state::Cvm c = ctx.State().cvm();
  state::EnvPubkey key;
  if (c.chain_id() != 0) {
    // As the CLI: the KMS named by the CVM's kms_type, the app id as the API prints it.
    const std::string kms = c.kms_type().empty() ? "base" : c.kms_type();
    ASSIGN_OR_RETURN(const chain::Address app, AddressField("cvm.app_id", c.app_id()));
    absl::StatusOr<state::EnvPubkey> k = FetchEnvPubkey(ctx, kms, cloudapi::wire::HexOf(app), {kms});
    if (!k.ok()) return k.status();
    key = *k;
  } else {
    if (c.encrypted_env_pubkey().empty()) {
      return absl::FailedPreconditionError("the API reports no env-encryption public key for the CVM");
    }
    absl::StatusOr<chain::Bytes> pubkey = chain::FromHex(c.encrypted_env_pubkey());
    if (!pubkey.ok()) return absl::FailedPreconditionError("the API's env-encryption public key is not hex");
    key.set_public_key(chain::ToHex(*pubkey, /*prefix=*/false));
  }
  return run.Succeed([&](v1::Operation&, state::FlowState& st) { *st.mutable_env_pubkey() = key; },
                     key.verified() ? "signature verified against the trusted KMS key" : "");
}

json::object ParseObject(absl::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  return !ec && v.is_object() ? v.as_object() : json::object();
}

std::set<std::string> KeySet(const json::value* v) {
  std::set<std::string> out;
  if (v == nullptr || !v->is_array()) return out;
  for (const json::value& e : v->as_array()) {
    if (e.is_string()) out.insert(std::string(e.as_string()));
  }
  return out;
}

// Outcome of the first call of a two-phase update.
absl::Status RecordFirstCall(OpContext& ctx, StepRun& run, const cloudapi::UpdateResult& r,
                             const chain::Hash32& expected_hash) {
  const state::Cvm c = ctx.State().cvm();
  if (const auto* ok = std::get_if<cloudapi::UpdateAccepted>(&r)) {
    // register_compose_hash and confirm_update are then skipped (AcceptedAtOnce).
    return run.Succeed(
        [&](v1::Operation& op, state::FlowState&) {
          v1::UpdateResult* u = op.mutable_update();
          u->set_cvm_id(c.id());
          u->set_compose_hash(expected_hash.Hex());
          u->set_two_phase(false);
          u->set_correlation_id(ok->correlation_id);
          u->set_allowed_envs_changed(ok->allowed_envs_changed.value_or(false));
        },
        absl::StrCat("accepted in one call (", ok->status, ")"));
  }
  const auto& pre = std::get<cloudapi::PreconditionRequired>(r);
  RETURN_IF_ERROR(CheckComposeHash(ctx, "the precondition_required answer", pre.compose_hash, expected_hash));
  ASSIGN_OR_RETURN(const chain::Address app, AddressField("cvm.app_id", c.app_id()));
  if (pre.app_id != app) {
    return absl::FailedPreconditionError(absl::StrCat("the precondition_required answer names app ",
                                                      pre.app_id.Checksummed(), ", the CVM's app is ",
                                                      app.Checksummed()));
  }
  state::Precondition p;
  p.set_compose_hash(ToField(pre.compose_hash));
  p.set_app_id(ToField(pre.app_id));
  p.set_device_id(ToField(pre.device_id));
  *p.mutable_kms_info() = ToState(pre.kms_info);
  p.set_message(pre.message);
  return run.Succeed(
      [&](v1::Operation& op, state::FlowState& st) {
        *st.mutable_precondition() = p;
        v1::UpdateResult* u = op.mutable_update();
        u->set_cvm_id(c.id());
        u->set_compose_hash(pre.compose_hash.Hex());
        u->set_two_phase(true);
      },
      absl::StrCat("compose hash ", pre.compose_hash.Hex(), " must be registered on chain first"));
}

absl::Status RegisterFromPrecondition(OpContext& ctx, StepRun& run) {
  const state::FlowState st = ctx.State();
  const uint64_t chain_id =
      st.precondition().kms_info().chain_id() != 0 ? st.precondition().kms_info().chain_id() : st.cvm().chain_id();
  // The CVM's app contract, else the app id (which is the DstackApp address on chain).
  ASSIGN_OR_RETURN(std::optional<chain::Address> app,
                   OptionalAddressField("cvm.app_contract_address", st.cvm().app_contract_address()));
  if (!app.has_value()) {
    ASSIGN_OR_RETURN(app, AddressField("precondition.app_id", st.precondition().app_id()));
  }
  ASSIGN_OR_RETURN(const chain::Hash32 hash, HashField("precondition.compose_hash", st.precondition().compose_hash()));
  return RegisterComposeHashStep(ctx, run, chain_id, *app, hash);
}

// Before repeating a call that changes the CVM: did the earlier one (before a restart or a lost
// answer) take effect? Then the CVM already has the expected compose hash.
absl::StatusOr<bool> AlreadyApplied(OpContext& ctx, StepRun& run, const state::FlowState& st) {
  if (!run.effect_may_have_happened()) return false;
  ASSIGN_OR_RETURN(const chain::Hash32 expected, HashField("expected_compose_hash", st.expected_compose_hash()));
  ASSIGN_OR_RETURN(const std::optional<chain::Hash32> before,
                   OptionalHashField("cvm.compose_hash", st.cvm().compose_hash()));
  ASSIGN_OR_RETURN(const cloudapi::CvmInfo info, ReadCvm(ctx, st.cvm().id()));
  return info.compose_hash == expected && before != expected;
}

absl::Status RecordConfirm(StepRun& run, const cloudapi::UpdateResult& r) {
  if (std::holds_alternative<cloudapi::PreconditionRequired>(r)) {
    return absl::FailedPreconditionError("the API still requires the compose hash registration after the proof");
  }
  const auto& ok = std::get<cloudapi::UpdateAccepted>(r);
  return run.Succeed(
      [&](v1::Operation& op, state::FlowState&) {
        op.mutable_update()->set_correlation_id(ok.correlation_id);
        if (ok.allowed_envs_changed.has_value())
          op.mutable_update()->set_allowed_envs_changed(*ok.allowed_envs_changed);
      },
      absl::StrCat("accepted with the on-chain proof (", ok.status, ")"));
}

absl::Status SucceedAlreadyApplied(StepRun& run) {
  return run.Succeed(nullptr, "the update had taken effect before a restart");
}

// The on-chain proof the confirming call carries.
struct Proof {
  chain::Hash32 compose_hash;
  std::optional<chain::Hash32> transaction_hash;
};

using FirstUpdateCall = std::function<absl::StatusOr<cloudapi::UpdateResult>(const cloudapi::CvmRef&)>;
using ConfirmingCall = std::function<absl::StatusOr<cloudapi::UpdateResult>(const cloudapi::CvmRef&, const Proof&)>;

// The first call of a two-phase update: journals the app compose the change should produce and
// its hash, sends the call, records the answer (accepted, or the 465 with the hash to register).
absl::Status SendFirstCall(OpContext& ctx, StepRun& run, const json::object& expected_compose,
                           const FirstUpdateCall& call) {
  ASSIGN_OR_RETURN(const chain::Hash32 expected, ServiceComposeHash(expected_compose));
  RETURN_IF_ERROR(ctx.Update([&](v1::Operation&, state::FlowState& st) {
    st.set_expected_app_compose_json(json::serialize(expected_compose));
    st.set_expected_compose_hash(ToField(expected));
  }));
  ASSIGN_OR_RETURN(const cloudapi::CvmRef ref, CvmRefFor(ctx.State().cvm().id()));
  RETURN_IF_ERROR(run.SendingEffect());
  ASSIGN_OR_RETURN(const cloudapi::UpdateResult r, call(ref));
  return RecordFirstCall(ctx, run, r, expected);
}

// The same call again with the proof of the registration, unless it took effect before a restart.
absl::Status SendConfirmingCall(OpContext& ctx, StepRun& run, const ConfirmingCall& call) {
  const state::FlowState st = ctx.State();
  ASSIGN_OR_RETURN(const bool applied, AlreadyApplied(ctx, run, st));
  if (applied) return SucceedAlreadyApplied(run);
  ASSIGN_OR_RETURN(const cloudapi::CvmRef ref, CvmRefFor(st.cvm().id()));
  Proof proof;
  ASSIGN_OR_RETURN(proof.compose_hash, HashField("precondition.compose_hash", st.precondition().compose_hash()));
  ASSIGN_OR_RETURN(proof.transaction_hash,
                   OptionalHashField("registration.transaction_hash", st.registration().transaction_hash()));
  RETURN_IF_ERROR(run.SendingEffect());
  ASSIGN_OR_RETURN(const cloudapi::UpdateResult r, call(ref, proof));
  return RecordConfirm(run, r);
}

// ---------------------------------------------------------------------------------------------
// Steps shared by the update flows, for any request type.

// The first call was accepted at once: nothing to register or confirm.
std::optional<std::string> AcceptedAtOnce(const state::FlowState& st) {
  if (st.has_precondition()) return std::nullopt;
  return "not needed: the API accepted the update at once";
}

template <typename Request>
std::function<std::optional<std::string>(const state::FlowState&, const Request&)> Skipping(SkipWhen when) {
  if (!when) return nullptr;
  return [when](const state::FlowState& st, const Request&) { return when(st); };
}

template <typename Request>
Step<Request> GetCvm(bool need_compose) {
  return {.name = kGetCvm, .effect = [need_compose](OpContext& ctx, StepRun& run, const Request& req) {
            return GetCvmStep(ctx, run, req.cvm_id(), need_compose);
          }};
}

template <typename Request>
Step<Request> GetEnvPubkey(std::function<std::optional<std::string>(const state::FlowState&, const Request&)> skip) {
  return {.name = kGetEnvPubkey,
          .effect = [](OpContext& ctx, StepRun& run, const Request&) { return EnvPubkeyStep(ctx, run); },
          .skip_when = std::move(skip)};
}

template <typename Request>
Step<Request> EncryptEnv(std::function<std::optional<std::string>(const state::FlowState&, const Request&)> skip) {
  return {.name = kEncryptEnv,
          .effect =
              [](OpContext& ctx, StepRun& run, const Request&) {
                return EncryptEnvStep(ctx, run, ctx.State().env_pubkey().public_key(), /*encrypt_empty=*/true);
              },
          .skip_when = std::move(skip)};
}

template <typename Request>
Step<Request> RegisterComposeHash(SkipWhen skip) {
  return {.name = kRegisterComposeHash,
          .before = BeforeEffect::kTransaction,
          .effect = [](OpContext& ctx, StepRun& run, const Request&) { return RegisterFromPrecondition(ctx, run); },
          .skip_when = Skipping<Request>(std::move(skip))};
}

// ---------------------------------------------------------------------------------------------
// UPDATE_ENV_VARS

absl::Status UpdateEnvVars(OpContext& ctx, StepRun& run, const v1::UpdateEnvVarsRequest&) {
  const state::FlowState st = ctx.State();
  // The app compose the change produces: allowed_envs becomes the new keys when their set
  // differs (the API compares sets).
  json::object compose = ParseObject(st.cvm().app_compose_json());
  json::array keys;
  for (const std::string& k : st.env_keys()) keys.emplace_back(k);
  json::value wanted = keys;
  if (KeySet(compose.if_contains("allowed_envs")) != KeySet(&wanted)) compose["allowed_envs"] = keys;
  cloudapi::UpdateCvmEnvsRequest u;
  u.encrypted_env = st.encrypted_env();
  u.env_keys = std::vector<std::string>(st.env_keys().begin(), st.env_keys().end());
  return SendFirstCall(ctx, run, compose,
                       [&](const cloudapi::CvmRef& ref) { return ctx.deps().cloud->UpdateCvmEnvs(ref, u); });
}

absl::Status ConfirmEnvVars(OpContext& ctx, StepRun& run, const v1::UpdateEnvVarsRequest&) {
  return SendConfirmingCall(ctx, run, [&](const cloudapi::CvmRef& ref, const Proof& proof) {
    const state::FlowState st = ctx.State();
    cloudapi::UpdateCvmEnvsRequest u;
    u.encrypted_env = st.encrypted_env();
    u.env_keys = std::vector<std::string>(st.env_keys().begin(), st.env_keys().end());
    u.compose_hash = proof.compose_hash;
    u.transaction_hash = proof.transaction_hash;
    return ctx.deps().cloud->UpdateCvmEnvs(ref, u);
  });
}

// ---------------------------------------------------------------------------------------------
// UPDATE_DOCKER_COMPOSE

absl::Status UpdateDockerCompose(OpContext& ctx, StepRun& run, const v1::UpdateDockerComposeRequest& req) {
  json::object compose = ParseObject(ctx.State().cvm().app_compose_json());
  compose["docker_compose_file"] = req.docker_compose_file();
  cloudapi::UpdateDockerComposeRequest u;
  u.docker_compose_file = req.docker_compose_file();
  return SendFirstCall(ctx, run, compose,
                       [&](const cloudapi::CvmRef& ref) { return ctx.deps().cloud->UpdateDockerCompose(ref, u); });
}

absl::Status ConfirmDockerCompose(OpContext& ctx, StepRun& run, const v1::UpdateDockerComposeRequest& req) {
  return SendConfirmingCall(ctx, run, [&](const cloudapi::CvmRef& ref, const Proof& proof) {
    cloudapi::UpdateDockerComposeRequest u;
    u.docker_compose_file = req.docker_compose_file();
    u.compose_hash = proof.compose_hash;
    u.transaction_hash = proof.transaction_hash;
    return ctx.deps().cloud->UpdateDockerCompose(ref, u);
  });
}

// ---------------------------------------------------------------------------------------------
// UPDATE_COMPOSE_FILE

// Applies the request's AppCompose fields named by the mask (or, with an empty mask, every field
// that is set) to the current app compose object.
absl::Status ApplyMask(const v1::UpdateComposeFileRequest& req, json::object& o) {
  const v1::AppCompose& c = req.compose();
  std::vector<std::string> paths(req.update_mask().paths().begin(), req.update_mask().paths().end());
  const bool all_set = paths.empty();
  auto want = [&](const char* f, bool is_set) {
    return all_set ? is_set : std::find(paths.begin(), paths.end(), f) != paths.end();
  };
  auto str = [&](const char* f, const std::string& v) {
    if (!want(f, !v.empty())) return;
    if (v.empty()) {
      o.erase(f);
    } else {
      o[f] = v;
    }
  };
  auto flag = [&](const char* f, bool has, bool v) {
    if (!want(f, has)) return;
    if (has) {
      o[f] = v;
    } else {
      o.erase(f);
    }
  };
  auto list = [&](const char* f, const google::protobuf::RepeatedPtrField<std::string>& v) {
    if (!want(f, !v.empty())) return;
    json::array a;
    for (const std::string& s : v) a.emplace_back(s);
    o[f] = std::move(a);
  };
  str("name", c.name());
  str("docker_compose_file", c.docker_compose_file());
  str("pre_launch_script", c.pre_launch_script());
  list("allowed_envs", c.allowed_envs());
  flag("kms_enabled", c.has_kms_enabled(), c.kms_enabled());
  flag("gateway_enabled", c.has_gateway_enabled(), c.gateway_enabled());
  flag("public_logs", c.has_public_logs(), c.public_logs());
  flag("public_sysinfo", c.has_public_sysinfo(), c.public_sysinfo());
  flag("public_tcbinfo", c.has_public_tcbinfo(), c.public_tcbinfo());
  flag("local_key_provider_enabled", c.has_local_key_provider_enabled(), c.local_key_provider_enabled());
  flag("no_instance_id", c.has_no_instance_id(), c.no_instance_id());
  flag("secure_time", c.has_secure_time(), c.secure_time());
  if (want("key_provider_id", !c.key_provider_id().empty())) o["key_provider_id"] = c.key_provider_id();
  if (want("storage_fs", c.storage_fs() != v1::STORAGE_FS_UNSPECIFIED)) {
    if (c.storage_fs() == v1::STORAGE_FS_EXT4) {
      o["storage_fs"] = "ext4";
    } else if (c.storage_fs() == v1::STORAGE_FS_ZFS) {
      o["storage_fs"] = "zfs";
    } else {
      o.erase("storage_fs");
    }
  }
  list("features", c.features());
  if (want("manifest_version", c.manifest_version() != 0)) {
    if (c.manifest_version() != 0) {
      o["manifest_version"] = static_cast<int64_t>(c.manifest_version());
    } else {
      o.erase("manifest_version");
    }
  }
  str("runner", c.runner());
  return absl::OkStatus();
}

// With update_env_vars, every key of the request must be allowed by the new app compose.
absl::Status CheckAllowedEnvs(const v1::UpdateComposeFileRequest& req, const json::object& compose) {
  const json::value* allowed = compose.if_contains("allowed_envs");
  if (allowed == nullptr) return absl::OkStatus();
  const std::set<std::string> have = KeySet(allowed);
  std::vector<std::string> missing;
  for (const v1::EnvVar& e : req.env_vars()) {
    if (have.count(e.key()) == 0) missing.push_back(e.key());
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("env_vars: keys not in the app compose's allowed_envs: ", absl::StrJoin(missing, ", "),
                   " (add them with compose.allowed_envs)"));
}

absl::Status GetComposeFile(OpContext& ctx, StepRun& run, const v1::UpdateComposeFileRequest& req) {
  absl::StatusOr<cloudapi::CvmRef> ref = CvmRefFor(req.cvm_id());
  if (!ref.ok()) return ref.status();
  absl::StatusOr<cloudapi::CvmInfo> info = ctx.deps().cloud->GetCvmInfo(*ref);
  if (!info.ok()) return info.status();
  absl::StatusOr<cloudapi::AppCompose> compose = ctx.deps().cloud->GetCvmComposeFile(*ref);
  if (!compose.ok()) return compose.status();
  json::object o = compose->ToJson();
  state::Cvm c = ToState(*info);
  RETURN_IF_ERROR(CheckCvmAppInScope(ctx, c, req.cvm_id()));
  c.set_app_compose_json(json::serialize(o));
  RETURN_IF_ERROR(ApplyMask(req, o));
  if (req.update_env_vars()) RETURN_IF_ERROR(CheckAllowedEnvs(req, o));
  ASSIGN_OR_RETURN(const chain::Hash32 expected, ServiceComposeHash(o));
  return run.Succeed(
      [&](v1::Operation& op, state::FlowState& st) {
        *st.mutable_cvm() = c;
        st.set_expected_app_compose_json(json::serialize(o));
        st.set_expected_compose_hash(ToField(expected));
        op.mutable_update()->set_cvm_id(c.id());
      },
      absl::StrCat("CVM ", c.id(), ": new compose hash will be ", expected.Hex()));
}

absl::Status ProvisionUpdate(OpContext& ctx, StepRun& run, const v1::UpdateComposeFileRequest& req) {
  const state::FlowState st = ctx.State();
  absl::StatusOr<cloudapi::CvmRef> ref = CvmRefFor(st.cvm().id());
  if (!ref.ok()) return ref.status();
  cloudapi::ProvisionComposeFileUpdateRequest p;
  p.app_compose = cloudapi::AppCompose::FromJson(ParseObject(st.expected_app_compose_json()));
  if (req.update_env_vars()) p.update_env_vars = true;
  absl::StatusOr<cloudapi::ComposeFileUpdateProvision> r = ctx.deps().cloud->ProvisionComposeFileUpdate(*ref, p);
  if (!r.ok()) return r.status();
  ASSIGN_OR_RETURN(const chain::Hash32 expected, HashField("expected_compose_hash", st.expected_compose_hash()));
  RETURN_IF_ERROR(CheckComposeHash(ctx, "compose_file/provision", r->compose_hash, expected));
  state::Precondition pre;
  pre.set_compose_hash(ToField(r->compose_hash));
  pre.set_app_id(r->app_id.has_value() ? ToField(*r->app_id) : st.cvm().app_id());
  pre.set_device_id(ToField(r->device_id));
  if (r->kms_info.has_value()) *pre.mutable_kms_info() = ToState(*r->kms_info);
  return run.Succeed(
      [&](v1::Operation& op, state::FlowState& st) {
        *st.mutable_precondition() = pre;
        st.set_compose_hash_registered(r->compose_hash_registered);
        op.mutable_update()->set_compose_hash(r->compose_hash.Hex());
        op.mutable_update()->set_two_phase(!r->compose_hash_registered && pre.kms_info().chain_id() != 0);
      },
      absl::StrCat("compose hash ", r->compose_hash.Hex(),
                   r->compose_hash_registered ? " (already registered on chain)" : ""));
}

absl::Status CommitUpdate(OpContext& ctx, StepRun& run, const v1::UpdateComposeFileRequest& req) {
  const state::FlowState st = ctx.State();
  ASSIGN_OR_RETURN(const bool applied, AlreadyApplied(ctx, run, st));
  if (applied) return SucceedAlreadyApplied(run);
  ASSIGN_OR_RETURN(const cloudapi::CvmRef ref, CvmRefFor(st.cvm().id()));
  cloudapi::CommitComposeFileUpdateRequest c;
  ASSIGN_OR_RETURN(c.compose_hash, HashField("precondition.compose_hash", st.precondition().compose_hash()));
  if (req.update_env_vars()) {
    c.encrypted_env = st.encrypted_env();
    c.env_keys = std::vector<std::string>(st.env_keys().begin(), st.env_keys().end());
    c.update_env_vars = true;
  }
  RETURN_IF_ERROR(run.SendingEffect());
  absl::StatusOr<cloudapi::CommitComposeFileUpdateResponse> r = ctx.deps().cloud->CommitComposeFileUpdate(ref, c);
  if (!r.ok()) return r.status();
  return run.Succeed(
      [&](v1::Operation& op, state::FlowState&) {
        op.mutable_update()->set_correlation_id(r->correlation_id.value_or(""));
      },
      "committed");
}

// register_compose_hash is needed only on chain, and only when the API does not report the hash
// registered.
std::optional<std::string> RegisteredOrOffChain(const state::FlowState& st) {
  if (st.cvm().chain_id() == 0 && st.precondition().kms_info().chain_id() == 0) return "not needed: off-chain KMS";
  if (st.compose_hash_registered()) return "not needed: the API reports the hash registered on chain";
  return std::nullopt;
}

std::optional<std::string> EnvUnchanged(const state::FlowState&, const v1::UpdateComposeFileRequest& req) {
  if (req.update_env_vars()) return std::nullopt;
  return "not needed: env vars unchanged";
}

// ---------------------------------------------------------------------------------------------
// ADD_COMPOSE_HASH

bool NeedsCvm(const v1::AddComposeHashRequest& req) { return !req.has_app(); }

absl::Status HasAppContract(const state::FlowState& st, const v1::AddComposeHashRequest& req) {
  if (req.has_app() || st.cvm().chain_id() != 0) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("CVM ", st.cvm().id(), " uses an off-chain KMS: it has no app contract to register hashes on"));
}

// The requested hash on the request's app contract, or on the CVM's.
absl::Status RegisterRequestedHash(OpContext& ctx, StepRun& run, const v1::AddComposeHashRequest& req) {
  const state::Cvm c = ctx.State().cvm();
  const uint64_t chain_id = req.has_app() ? req.app().chain_id() : c.chain_id();
  const std::string& app_text = req.has_app()                      ? req.app().app_contract_address()
                                : c.app_contract_address().empty() ? c.app_id()
                                                                   : c.app_contract_address();
  absl::StatusOr<chain::Address> app = AddressField("app", app_text);
  if (!app.ok()) return absl::FailedPreconditionError(absl::StrCat("app contract address: ", app.status().message()));
  ASSIGN_OR_RETURN(const chain::Hash32 hash, chain::Hash32::FromHex(req.compose_hash()));
  return RegisterComposeHashStep(ctx, run, chain_id, *app, hash);
}

absl::Status RecordAddComposeHashResult(OpContext& ctx, const v1::AddComposeHashRequest&) {
  const state::Registration r = ctx.State().registration();
  return ctx.Update([&](v1::Operation& op, state::FlowState&) {
    v1::AddComposeHashResult* out = op.mutable_add_compose_hash();
    out->set_chain_id(r.chain_id());
    out->set_app_contract_address(r.app_contract_address());
    out->set_compose_hash(r.compose_hash());
    out->set_transaction_hash(r.transaction_hash());
    out->set_block_number(r.block_number());
    out->set_already_registered(r.already_registered());
    out->set_registered_by_owner(r.by_owner());
  });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The flows, each declared once.

namespace {

// The two-phase updates: get_cvm -> `prepare` -> the first call -> (465) register_compose_hash ->
// the confirming call with the proof; the last two are skipped when the API accepts at once.
template <typename Req>
std::unique_ptr<engine::Flow> TwoPhaseUpdate(std::vector<Step<Req>> prepare, Step<Req> first,
                                             typename Step<Req>::Effect confirm) {
  std::vector<Step<Req>> steps = {GetCvm<Req>(/*need_compose=*/true)};
  for (Step<Req>& s : prepare) steps.push_back(std::move(s));
  first.before = BeforeEffect::kEffectSent;
  steps.push_back(std::move(first));
  steps.push_back(RegisterComposeHash<Req>(AcceptedAtOnce));
  steps.push_back({.name = kConfirmUpdate,
                   .before = BeforeEffect::kEffectSent,
                   .effect = std::move(confirm),
                   .skip_when = Skipping<Req>(AcceptedAtOnce)});
  steps.push_back(WaitRunningStep<Req>());
  return std::make_unique<StepTable<Req>>(std::move(steps));
}

}  // namespace

std::unique_ptr<engine::Flow> NewUpdateEnvVarsFlow() {
  using Req = v1::UpdateEnvVarsRequest;
  return TwoPhaseUpdate<Req>({GetEnvPubkey<Req>(nullptr), EncryptEnv<Req>(nullptr)},
                             {.name = kUpdateEnvVars, .effect = UpdateEnvVars}, ConfirmEnvVars);
}

std::unique_ptr<engine::Flow> NewUpdateDockerComposeFlow() {
  using Req = v1::UpdateDockerComposeRequest;
  return TwoPhaseUpdate<Req>({}, {.name = kUpdateDockerCompose, .effect = UpdateDockerCompose}, ConfirmDockerCompose);
}

std::unique_ptr<engine::Flow> NewUpdateComposeFileFlow() {
  using Req = v1::UpdateComposeFileRequest;
  return std::make_unique<StepTable<Req>>(std::vector<Step<Req>>{
      {.name = kGetComposeFile, .effect = GetComposeFile},
      {.name = kProvisionUpdate, .effect = ProvisionUpdate},
      RegisterComposeHash<Req>(RegisteredOrOffChain),
      GetEnvPubkey<Req>(EnvUnchanged),
      EncryptEnv<Req>(EnvUnchanged),
      {.name = kCommitUpdate, .before = BeforeEffect::kEffectSent, .effect = CommitUpdate},
      WaitRunningStep<Req>(),
  });
}

std::unique_ptr<engine::Flow> NewAddComposeHashFlow() {
  using Req = v1::AddComposeHashRequest;
  Step<Req> get_cvm = GetCvm<Req>(/*need_compose=*/false);
  get_cvm.included = NeedsCvm;
  return std::make_unique<StepTable<Req>>(
      std::vector<Step<Req>>{
          get_cvm,
          {.name = kRegisterComposeHash,
           .before = BeforeEffect::kTransaction,
           .effect = RegisterRequestedHash,
           .precondition = HasAppContract},
      },
      RecordAddComposeHashResult);
}

engine::FlowRegistry AllFlows() {
  engine::FlowRegistry r;
  r[v1::OPERATION_KIND_DEPLOY_CVM] = NewDeployFlow();
  r[v1::OPERATION_KIND_UPDATE_ENV_VARS] = NewUpdateEnvVarsFlow();
  r[v1::OPERATION_KIND_UPDATE_DOCKER_COMPOSE] = NewUpdateDockerComposeFlow();
  r[v1::OPERATION_KIND_UPDATE_COMPOSE_FILE] = NewUpdateComposeFileFlow();
  r[v1::OPERATION_KIND_ADD_COMPOSE_HASH] = NewAddComposeHashFlow();
  r[v1::OPERATION_KIND_UPDATE_APP_CONTRACT] = NewUpdateAppContractFlow();
  return r;
}

}  // namespace orchestrator::flows
