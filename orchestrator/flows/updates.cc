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
#include <set>
#include <variant>

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chain/hex.h"
#include "cloudapi/wire.h"
#include "orchestrator/flows/common.h"
#include "orchestrator/flows/flows.h"
#include "platform/status_macros.h"

namespace orchestrator::flows {
namespace {

namespace json = boost::json;

// ---------------------------------------------------------------------------------------------
// Shared steps.

absl::Status GetCvmStep(OpContext& ctx, StepRun& run, absl::string_view cvm_id, bool need_compose) {
  absl::StatusOr<cloudapi::CvmRef> ref = CvmRefFor(cvm_id);
  if (!ref.ok()) return ref.status();
  absl::StatusOr<cloudapi::CvmInfo> info = ctx.deps().cloud->GetCvmInfo(*ref);
  if (!info.ok()) return info.status();
  if (!info->app_id.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("CVM ", cvm_id, " has no app id"));
  }
  state::Cvm c = ToState(*info);
  if (need_compose) {
    absl::StatusOr<cloudapi::AppCompose> compose = ctx.deps().cloud->GetCvmComposeFile(*ref);
    if (!compose.ok()) return compose.status();
    c.set_app_compose_json(json::serialize(compose->ToJson()));
  }
  return run.Succeed(
      [&](v1::Operation& op, state::FlowState& st) {
        *st.mutable_cvm() = c;
        if (op.kind() != v1::OPERATION_KIND_ADD_COMPOSE_HASH) op.mutable_update()->set_cvm_id(c.id());
      },
      absl::StrCat("CVM ", c.id(), " app ", c.app_id(),
                   c.chain_id() != 0 ? absl::StrCat(" on chain ", c.chain_id()) : std::string(" (off-chain KMS)")));
}

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
    absl::Status s = run.Succeed(
        [&](v1::Operation& op, state::FlowState&) {
          v1::UpdateResult* u = op.mutable_update();
          u->set_cvm_id(c.id());
          u->set_compose_hash(expected_hash.Hex());
          u->set_two_phase(false);
          u->set_correlation_id(ok->correlation_id);
          u->set_allowed_envs_changed(ok->allowed_envs_changed.value_or(false));
        },
        absl::StrCat("accepted in one call (", ok->status, ")"));
    if (!s.ok()) return s;
    if (absl::Status s = ctx.Skip(kRegisterComposeHash, "not needed: the API accepted the update at once"); !s.ok()) {
      return s;
    }
    return ctx.Skip(kConfirmUpdate, "not needed: the API accepted the update at once");
  }
  const auto& pre = std::get<cloudapi::PreconditionRequired>(r);
  RETURN_IF_ERROR(CheckComposeHash(ctx, "the precondition_required answer", pre.compose_hash, expected_hash));
  ASSIGN_OR_RETURN(const chain::Address app, AddressField("cvm.app_id", c.app_id()));
  if (pre.app_id != app) {
    return absl::FailedPreconditionError(absl::StrCat("the precondition_required answer names app ",
                                                      pre.app_id.Checksummed(), ", the CVM's app is ", app.Checksummed()));
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
  if (!run.may_have_run() && !EffectSent(st, run.name())) return false;
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
        if (ok.allowed_envs_changed.has_value()) op.mutable_update()->set_allowed_envs_changed(*ok.allowed_envs_changed);
      },
      absl::StrCat("accepted with the on-chain proof (", ok.status, ")"));
}

absl::Status SucceedAlreadyApplied(StepRun& run) {
  return run.Succeed(nullptr, "the update had taken effect before a restart");
}

// ---------------------------------------------------------------------------------------------
// UPDATE_ENV_VARS

class UpdateEnvVarsFlow final : public engine::Flow {
 public:
  std::vector<std::string> InitialSteps(const state::FlowState&) const override {
    return {kGetCvm, kGetEnvPubkey, kEncryptEnv, kUpdateEnvVars, kRegisterComposeHash, kConfirmUpdate};
  }

  absl::Status Run(OpContext& ctx) override {
    v1::UpdateEnvVarsRequest req;
    if (!req.ParseFromString(ctx.State().request())) return absl::DataLossError("journal: request does not parse");
    if (absl::Status s = ctx.RunStep(kGetCvm, [&](StepRun& run) { return GetCvmStep(ctx, run, req.cvm_id(), true); });
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ctx.RunStep(kGetEnvPubkey, [&](StepRun& run) { return EnvPubkeyStep(ctx, run); }); !s.ok()) {
      return s;
    }
    if (absl::Status s = ctx.RunStep(kEncryptEnv,
                                     [&](StepRun& run) {
                                       return EncryptEnvStep(ctx, run, ctx.State().env_pubkey().public_key(),
                                                             /*encrypt_empty=*/true);
                                     });
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ctx.RunStep(kUpdateEnvVars, [&](StepRun& run) { return FirstCall(ctx, run); }); !s.ok()) {
      return s;
    }
    if (absl::Status s = ctx.RunStep(kRegisterComposeHash, [&](StepRun& run) { return RegisterFromPrecondition(ctx, run); });
        !s.ok()) {
      return s;
    }
    return ctx.RunStep(kConfirmUpdate, [&](StepRun& run) { return Confirm(ctx, run); });
  }

 private:
  static absl::Status FirstCall(OpContext& ctx, StepRun& run) {
    state::FlowState st = ctx.State();
    // The app compose the change produces: allowed_envs becomes the new keys when their set
    // differs (the API compares sets).
    json::object compose = ParseObject(st.cvm().app_compose_json());
    json::array keys;
    for (const std::string& k : st.env_keys()) keys.emplace_back(k);
    json::value wanted = keys;
    if (KeySet(compose.if_contains("allowed_envs")) != KeySet(&wanted)) compose["allowed_envs"] = keys;
    absl::StatusOr<chain::Hash32> expected = ServiceComposeHash(compose);
    if (!expected.ok()) return expected.status();
    if (absl::Status s = ctx.Update([&](v1::Operation&, state::FlowState& st) {
          st.set_expected_app_compose_json(json::serialize(compose));
          st.set_expected_compose_hash(ToField(*expected));
        });
        !s.ok()) {
      return s;
    }
    absl::StatusOr<cloudapi::CvmRef> ref = CvmRefFor(st.cvm().id());
    if (!ref.ok()) return ref.status();
    cloudapi::UpdateCvmEnvsRequest u;
    u.encrypted_env = st.encrypted_env();
    u.env_keys = std::vector<std::string>(st.env_keys().begin(), st.env_keys().end());
    if (absl::Status s = ctx.MarkIrreversible(); !s.ok()) return s;
    if (absl::Status s = MarkEffectSent(ctx, run.name()); !s.ok()) return s;
    absl::StatusOr<cloudapi::UpdateResult> r = ctx.deps().cloud->UpdateCvmEnvs(*ref, u);
    if (!r.ok()) return r.status();
    return RecordFirstCall(ctx, run, *r, *expected);
  }

  static absl::Status Confirm(OpContext& ctx, StepRun& run) {
    const state::FlowState st = ctx.State();
    absl::StatusOr<bool> applied = AlreadyApplied(ctx, run, st);
    if (!applied.ok()) return applied.status();
    if (*applied) return SucceedAlreadyApplied(run);
    absl::StatusOr<cloudapi::CvmRef> ref = CvmRefFor(st.cvm().id());
    if (!ref.ok()) return ref.status();
    cloudapi::UpdateCvmEnvsRequest u;
    u.encrypted_env = st.encrypted_env();
    u.env_keys = std::vector<std::string>(st.env_keys().begin(), st.env_keys().end());
    ASSIGN_OR_RETURN(u.compose_hash, HashField("precondition.compose_hash", st.precondition().compose_hash()));
    ASSIGN_OR_RETURN(u.transaction_hash,
                     OptionalHashField("registration.transaction_hash", st.registration().transaction_hash()));
    if (absl::Status s = MarkEffectSent(ctx, run.name()); !s.ok()) return s;
    absl::StatusOr<cloudapi::UpdateResult> r = ctx.deps().cloud->UpdateCvmEnvs(*ref, u);
    if (!r.ok()) return r.status();
    return RecordConfirm(run, *r);
  }
};

// ---------------------------------------------------------------------------------------------
// UPDATE_DOCKER_COMPOSE

class UpdateDockerComposeFlow final : public engine::Flow {
 public:
  std::vector<std::string> InitialSteps(const state::FlowState&) const override {
    return {kGetCvm, kUpdateDockerCompose, kRegisterComposeHash, kConfirmUpdate};
  }

  absl::Status Run(OpContext& ctx) override {
    v1::UpdateDockerComposeRequest req;
    if (!req.ParseFromString(ctx.State().request())) return absl::DataLossError("journal: request does not parse");
    if (absl::Status s = ctx.RunStep(kGetCvm, [&](StepRun& run) { return GetCvmStep(ctx, run, req.cvm_id(), true); });
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ctx.RunStep(kUpdateDockerCompose, [&](StepRun& run) { return Call(ctx, run, req, false); });
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ctx.RunStep(kRegisterComposeHash, [&](StepRun& run) { return RegisterFromPrecondition(ctx, run); });
        !s.ok()) {
      return s;
    }
    return ctx.RunStep(kConfirmUpdate, [&](StepRun& run) { return Call(ctx, run, req, true); });
  }

 private:
  static absl::Status Call(OpContext& ctx, StepRun& run, const v1::UpdateDockerComposeRequest& req, bool confirm) {
    state::FlowState st = ctx.State();
    chain::Hash32 expected;
    if (!confirm) {
      json::object compose = ParseObject(st.cvm().app_compose_json());
      compose["docker_compose_file"] = req.docker_compose_file();
      ASSIGN_OR_RETURN(expected, ServiceComposeHash(compose));
      if (absl::Status s = ctx.Update([&](v1::Operation&, state::FlowState& st) {
            st.set_expected_app_compose_json(json::serialize(compose));
            st.set_expected_compose_hash(ToField(expected));
          });
          !s.ok()) {
        return s;
      }
    } else {
      absl::StatusOr<bool> applied = AlreadyApplied(ctx, run, st);
      if (!applied.ok()) return applied.status();
      if (*applied) return SucceedAlreadyApplied(run);
    }
    absl::StatusOr<cloudapi::CvmRef> ref = CvmRefFor(st.cvm().id());
    if (!ref.ok()) return ref.status();
    cloudapi::UpdateDockerComposeRequest u;
    u.docker_compose_file = req.docker_compose_file();
    if (confirm) {
      ASSIGN_OR_RETURN(u.compose_hash, HashField("precondition.compose_hash", st.precondition().compose_hash()));
      ASSIGN_OR_RETURN(u.transaction_hash,
                       OptionalHashField("registration.transaction_hash", st.registration().transaction_hash()));
    }
    if (absl::Status s = ctx.MarkIrreversible(); !s.ok()) return s;
    if (absl::Status s = MarkEffectSent(ctx, run.name()); !s.ok()) return s;
    absl::StatusOr<cloudapi::UpdateResult> r = ctx.deps().cloud->UpdateDockerCompose(*ref, u);
    if (!r.ok()) return r.status();
    return confirm ? RecordConfirm(run, *r) : RecordFirstCall(ctx, run, *r, expected);
  }
};

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

class UpdateComposeFileFlow final : public engine::Flow {
 public:
  std::vector<std::string> InitialSteps(const state::FlowState&) const override {
    return {kGetComposeFile, kProvisionUpdate, kRegisterComposeHash, kGetEnvPubkey, kEncryptEnv, kCommitUpdate};
  }

  absl::Status Run(OpContext& ctx) override {
    v1::UpdateComposeFileRequest req;
    if (!req.ParseFromString(ctx.State().request())) return absl::DataLossError("journal: request does not parse");
    if (absl::Status s = ctx.RunStep(kGetComposeFile, [&](StepRun& run) { return GetComposeFile(ctx, run, req); });
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ctx.RunStep(kProvisionUpdate, [&](StepRun& run) { return ProvisionUpdate(ctx, run, req); });
        !s.ok()) {
      return s;
    }
    {
      const state::FlowState st = ctx.State();
      absl::Status s;
      if (st.cvm().chain_id() == 0 && st.precondition().kms_info().chain_id() == 0) {
        s = ctx.Skip(kRegisterComposeHash, "not needed: off-chain KMS");
      } else if (st.compose_hash_registered()) {
        s = ctx.Skip(kRegisterComposeHash, "not needed: the API reports the hash registered on chain");
      } else {
        s = ctx.RunStep(kRegisterComposeHash, [&](StepRun& run) { return RegisterFromPrecondition(ctx, run); });
      }
      if (!s.ok()) return s;
    }
    if (req.update_env_vars()) {
      if (absl::Status s = ctx.RunStep(kGetEnvPubkey, [&](StepRun& run) { return EnvPubkeyStep(ctx, run); }); !s.ok()) {
        return s;
      }
      if (absl::Status s = ctx.RunStep(kEncryptEnv,
                                       [&](StepRun& run) {
                                         return EncryptEnvStep(ctx, run, ctx.State().env_pubkey().public_key(),
                                                               /*encrypt_empty=*/true);
                                       });
          !s.ok()) {
        return s;
      }
    } else {
      if (absl::Status s = ctx.Skip(kGetEnvPubkey, "not needed: env vars unchanged"); !s.ok()) return s;
      if (absl::Status s = ctx.Skip(kEncryptEnv, "not needed: env vars unchanged"); !s.ok()) return s;
    }
    return ctx.RunStep(kCommitUpdate, [&](StepRun& run) { return CommitUpdate(ctx, run, req); });
  }

 private:
  static absl::Status GetComposeFile(OpContext& ctx, StepRun& run, const v1::UpdateComposeFileRequest& req) {
    absl::StatusOr<cloudapi::CvmRef> ref = CvmRefFor(req.cvm_id());
    if (!ref.ok()) return ref.status();
    absl::StatusOr<cloudapi::CvmInfo> info = ctx.deps().cloud->GetCvmInfo(*ref);
    if (!info.ok()) return info.status();
    absl::StatusOr<cloudapi::AppCompose> compose = ctx.deps().cloud->GetCvmComposeFile(*ref);
    if (!compose.ok()) return compose.status();
    json::object o = compose->ToJson();
    state::Cvm c = ToState(*info);
    c.set_app_compose_json(json::serialize(o));
    if (absl::Status s = ApplyMask(req, o); !s.ok()) return s;
    if (req.update_env_vars()) {
      if (const json::value* allowed = o.if_contains("allowed_envs")) {
        const std::set<std::string> have = KeySet(allowed);
        std::vector<std::string> missing;
        for (const v1::EnvVar& e : req.env_vars()) {
          if (have.count(e.key()) == 0) missing.push_back(e.key());
        }
        if (!missing.empty()) {
          return absl::FailedPreconditionError(absl::StrCat("env_vars: keys not in the app compose's allowed_envs: ",
                                                            absl::StrJoin(missing, ", "),
                                                            " (add them with compose.allowed_envs)"));
        }
      }
    }
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

  static absl::Status ProvisionUpdate(OpContext& ctx, StepRun& run, const v1::UpdateComposeFileRequest& req) {
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

  static absl::Status CommitUpdate(OpContext& ctx, StepRun& run, const v1::UpdateComposeFileRequest& req) {
    const state::FlowState st = ctx.State();
    absl::StatusOr<bool> applied = AlreadyApplied(ctx, run, st);
    if (!applied.ok()) return applied.status();
    if (*applied) return SucceedAlreadyApplied(run);
    absl::StatusOr<cloudapi::CvmRef> ref = CvmRefFor(st.cvm().id());
    if (!ref.ok()) return ref.status();
    cloudapi::CommitComposeFileUpdateRequest c;
    ASSIGN_OR_RETURN(c.compose_hash, HashField("precondition.compose_hash", st.precondition().compose_hash()));
    if (req.update_env_vars()) {
      c.encrypted_env = st.encrypted_env();
      c.env_keys = std::vector<std::string>(st.env_keys().begin(), st.env_keys().end());
      c.update_env_vars = true;
    }
    if (absl::Status s = ctx.MarkIrreversible(); !s.ok()) return s;
    if (absl::Status s = MarkEffectSent(ctx, run.name()); !s.ok()) return s;
    absl::StatusOr<cloudapi::CommitComposeFileUpdateResponse> r = ctx.deps().cloud->CommitComposeFileUpdate(*ref, c);
    if (!r.ok()) return r.status();
    return run.Succeed(
        [&](v1::Operation& op, state::FlowState&) {
          op.mutable_update()->set_correlation_id(r->correlation_id.value_or(""));
        },
        "committed");
  }
};

// ---------------------------------------------------------------------------------------------
// ADD_COMPOSE_HASH

class AddComposeHashFlow final : public engine::Flow {
 public:
  std::vector<std::string> InitialSteps(const state::FlowState& st) const override {
    v1::AddComposeHashRequest req;
    req.ParseFromString(st.request());
    if (req.has_app()) return {kRegisterComposeHash};
    return {kGetCvm, kRegisterComposeHash};
  }

  absl::Status Run(OpContext& ctx) override {
    v1::AddComposeHashRequest req;
    if (!req.ParseFromString(ctx.State().request())) return absl::DataLossError("journal: request does not parse");
    uint64_t chain_id = 0;
    std::string app;  // EIP-55 (the normalized request) or as journaled
    if (req.has_app()) {
      chain_id = req.app().chain_id();
      app = req.app().app_contract_address();
    } else {
      if (absl::Status s = ctx.RunStep(kGetCvm, [&](StepRun& run) { return GetCvmStep(ctx, run, req.cvm_id(), false); });
          !s.ok()) {
        return s;
      }
      const state::Cvm c = ctx.State().cvm();
      if (c.chain_id() == 0) {
        absl::Status s = absl::FailedPreconditionError(
            absl::StrCat("CVM ", c.id(), " uses an off-chain KMS: it has no app contract to register hashes on"));
        (void)ctx.Fail(kRegisterComposeHash, s);
        return s;
      }
      chain_id = c.chain_id();
      app = c.app_contract_address().empty() ? c.app_id() : c.app_contract_address();
    }
    if (absl::Status s = ctx.RunStep(kRegisterComposeHash,
                                     [&](StepRun& run) -> absl::Status {
                                       absl::StatusOr<chain::Address> a = AddressField("app", app);
                                       if (!a.ok()) {
                                         return absl::FailedPreconditionError(
                                             absl::StrCat("app contract address: ", a.status().message()));
                                       }
                                       ASSIGN_OR_RETURN(const chain::Hash32 hash,
                                                        chain::Hash32::FromHex(req.compose_hash()));
                                       return RegisterComposeHashStep(ctx, run, chain_id, *a, hash);
                                     });
        !s.ok()) {
      return s;
    }
    const state::Registration r = ctx.State().registration();
    return ctx.Update([&](v1::Operation& op, state::FlowState&) {
      v1::AddComposeHashResult* out = op.mutable_add_compose_hash();
      out->set_chain_id(r.chain_id());
      out->set_app_contract_address(r.app_contract_address());
      out->set_compose_hash(r.compose_hash());
      out->set_transaction_hash(r.transaction_hash());
      out->set_block_number(r.block_number());
      out->set_already_registered(r.already_registered());
    });
  }
};

}  // namespace

std::unique_ptr<engine::Flow> NewUpdateEnvVarsFlow() { return std::make_unique<UpdateEnvVarsFlow>(); }
std::unique_ptr<engine::Flow> NewUpdateDockerComposeFlow() { return std::make_unique<UpdateDockerComposeFlow>(); }
std::unique_ptr<engine::Flow> NewUpdateComposeFileFlow() { return std::make_unique<UpdateComposeFileFlow>(); }
std::unique_ptr<engine::Flow> NewAddComposeHashFlow() { return std::make_unique<AddComposeHashFlow>(); }

engine::FlowRegistry AllFlows() {
  engine::FlowRegistry r;
  r[v1::OPERATION_KIND_DEPLOY_CVM] = NewDeployFlow();
  r[v1::OPERATION_KIND_UPDATE_ENV_VARS] = NewUpdateEnvVarsFlow();
  r[v1::OPERATION_KIND_UPDATE_DOCKER_COMPOSE] = NewUpdateDockerComposeFlow();
  r[v1::OPERATION_KIND_UPDATE_COMPOSE_FILE] = NewUpdateComposeFileFlow();
  r[v1::OPERATION_KIND_ADD_COMPOSE_HASH] = NewAddComposeHashFlow();
  return r;
}

}  // namespace orchestrator::flows
