// DEPLOY_CVM. On-chain KMS: provision -> check_kms -> deploy_app_auth -> get_env_pubkey ->
// encrypt_env -> commit. PHALA KMS: provision -> encrypt_env -> commit (the provision answer
// carries the app id and its env-encryption key).
#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "cloudapi/api_error.h"
#include "orchestrator/engine/step_table.h"
#include "orchestrator/flows/common.h"
#include "orchestrator/flows/flows.h"
#include "orchestrator/flows/ownership.h"
#include "orchestrator/flows/wait_running.h"
#include "platform/status_macros.h"

namespace orchestrator::flows {
namespace {

namespace json = boost::json;

bool OnChain(v1::KmsType t) { return t == v1::KMS_TYPE_ETHEREUM || t == v1::KMS_TYPE_BASE; }

const char* KmsName(v1::KmsType t) {
  switch (t) {
    case v1::KMS_TYPE_ETHEREUM:
      return "ETHEREUM";
    case v1::KMS_TYPE_BASE:
      return "BASE";
    default:
      return "PHALA";
  }
}

// The app compose exactly as the service builds it (every field explicit, the API's defaults
// filled in), so that its hash in the service's form is what the API must answer.
json::object BuildAppCompose(const v1::DeployCvmRequest& req) {
  const v1::AppCompose& c = req.compose();
  json::object o;
  json::array allowed;
  if (c.allowed_envs_size() > 0) {
    for (const std::string& k : c.allowed_envs()) allowed.emplace_back(k);
  } else {
    for (const v1::EnvVar& e : req.env_vars()) allowed.emplace_back(e.key());
  }
  o["allowed_envs"] = std::move(allowed);
  o["docker_compose_file"] = c.docker_compose_file();
  json::array features;
  if (c.features_size() > 0) {
    for (const std::string& f : c.features()) features.emplace_back(f);
  } else {
    features = {"kms", "tproxy-net"};
  }
  o["features"] = std::move(features);
  o["gateway_enabled"] = c.has_gateway_enabled() ? c.gateway_enabled() : true;
  o["kms_enabled"] = c.has_kms_enabled() ? c.kms_enabled() : true;
  o["key_provider_id"] = c.key_provider_id();
  o["local_key_provider_enabled"] = c.has_local_key_provider_enabled() ? c.local_key_provider_enabled() : false;
  o["manifest_version"] = c.manifest_version() != 0 ? static_cast<int64_t>(c.manifest_version()) : 2;
  o["name"] = c.name().empty() ? req.name() : c.name();
  o["no_instance_id"] = c.has_no_instance_id() ? c.no_instance_id() : false;
  if (!c.pre_launch_script().empty()) o["pre_launch_script"] = c.pre_launch_script();
  o["public_logs"] = c.has_public_logs() ? c.public_logs() : true;
  o["public_sysinfo"] = c.has_public_sysinfo() ? c.public_sysinfo() : true;
  o["public_tcbinfo"] = c.has_public_tcbinfo() ? c.public_tcbinfo() : true;
  o["runner"] = c.runner().empty() ? "docker-compose" : c.runner();
  o["secure_time"] = c.has_secure_time() ? c.secure_time() : false;
  if (c.storage_fs() == v1::STORAGE_FS_EXT4) o["storage_fs"] = "ext4";
  if (c.storage_fs() == v1::STORAGE_FS_ZFS) o["storage_fs"] = "zfs";
  return o;
}

absl::Status Provision(OpContext& ctx, StepRun& run, const v1::DeployCvmRequest& req) {
  const json::object compose = BuildAppCompose(req);
  ASSIGN_OR_RETURN(const chain::Hash32 expected, ServiceComposeHash(compose));
  cloudapi::ProvisionCvmRequest p;
  p.name = req.name();
  if (!req.instance_type().empty()) p.instance_type = req.instance_type();
  if (req.vcpu() != 0) p.vcpu = req.vcpu();
  if (req.memory_mb() != 0) p.memory = req.memory_mb();
  if (req.disk_size_gb() != 0) p.disk_size = req.disk_size_gb();
  if (!req.image().empty()) p.image = req.image();
  if (req.has_node_id()) p.node_id = static_cast<int64_t>(req.node_id());
  if (!req.region().empty()) p.region = req.region();
  if (req.has_listed()) p.listed = req.listed();
  p.compose_file = cloudapi::AppCompose::FromJson(compose);
  p.kms = KmsName(req.kms_type());
  if (!req.kms_id().empty()) p.kms_id = req.kms_id();
  if (!req.kms_contract_address().empty()) {
    ASSIGN_OR_RETURN(p.kms_contract, chain::Address::Parse(req.kms_contract_address()));
  }
  if (req.env_vars_size() > 0) {
    std::vector<std::string> keys;
    for (const v1::EnvVar& e : req.env_vars()) keys.push_back(e.key());
    p.env_keys = keys;
  }
  if (req.has_nonce()) p.nonce = static_cast<int64_t>(req.nonce());
  if (!req.app_id().empty()) {
    ASSIGN_OR_RETURN(p.app_id, cloudapi::ParseAppId(req.app_id()));
  }

  absl::StatusOr<cloudapi::ProvisionCvmResponse> r = ctx.deps().cloud->ProvisionCvm(p);
  if (!r.ok()) return r.status();
  RETURN_IF_ERROR(CheckComposeHash(ctx, "provision", r->compose_hash, expected));
  const bool onchain = OnChain(req.kms_type());
  if (onchain) {
    if (!r->kms_info.has_value() || !r->kms_info->chain_id.has_value() || !r->kms_info->kms_contract_address) {
      return absl::FailedPreconditionError(
          "provision: the API did not say which chain and KMS contract the app's KMS uses (kms_info)");
    }
    if (p.kms_contract.has_value() && *r->kms_info->kms_contract_address != *p.kms_contract) {
      return absl::FailedPreconditionError(absl::StrCat("provision: the API chose KMS contract ",
                                                        r->kms_info->kms_contract_address->Checksummed(),
                                                        ", not the requested ", p.kms_contract->Checksummed()));
    }
  } else if (!r->app_id.has_value()) {
    return absl::FailedPreconditionError("provision: the API returned no app id for the PHALA KMS");
  } else {
    RETURN_IF_ERROR(RecordOwned(ctx, journal::kResourceApp, PhalaAppResource(*r->app_id)));
  }
  state::Provision prov;
  prov.set_compose_hash(ToField(r->compose_hash));
  prov.set_device_id(ToField(r->device_id));
  prov.set_app_id(ToField(r->app_id));
  prov.set_app_env_encrypt_pubkey(r->app_env_encrypt_pubkey.value_or(""));
  if (r->kms_info.has_value()) *prov.mutable_kms_info() = ToState(*r->kms_info);
  prov.set_kms_id(r->kms_id.value_or(""));
  prov.set_node_id(r->node_id.value_or(0));
  prov.set_sent_app_compose_json(json::serialize(compose));
  prov.set_expected_compose_hash(ToField(expected));
  return run.Succeed(
      [&](v1::Operation& op, state::FlowState& st) {
        *st.mutable_provision() = prov;
        v1::DeployResult* d = op.mutable_deploy();
        d->set_name(req.name());
        d->set_kms_type(req.kms_type());
        d->set_kms_id(prov.kms_info().id().empty() ? prov.kms_id() : prov.kms_info().id());
        d->set_chain_id(prov.kms_info().chain_id());
        d->set_compose_hash(r->compose_hash.Hex());
        if (!onchain) d->set_app_id(r->app_id->Hex());  // the API's lowercase form, 0x-prefixed
      },
      absl::StrCat("compose hash ", r->compose_hash.Hex()));
}

absl::Status CheckKms(OpContext& ctx, StepRun& run, const v1::DeployCvmRequest&) {
  const state::FlowState st = ctx.State();
  const state::KmsInfo& k = st.provision().kms_info();
  // The KMS details from the API, against what the provision answered.
  absl::StatusOr<cloudapi::KmsInfo> info = ctx.deps().cloud->GetKmsInfo(k.id().empty() ? k.slug() : k.id());
  if (!info.ok()) return info.status();
  const state::KmsInfo fresh = ToState(*info);
  ASSIGN_OR_RETURN(const std::optional<chain::Address> contract,
                   OptionalAddressField("provision.kms_info.kms_contract_address", k.kms_contract_address()));
  if (fresh.chain_id() != k.chain_id() || info->kms_contract_address != contract) {
    return absl::FailedPreconditionError(absl::StrCat("KMS ", k.id(), ": the provision named chain ", k.chain_id(),
                                                      " contract ", k.kms_contract_address(), ", GET /kms says chain ",
                                                      fresh.chain_id(), " contract ", fresh.kms_contract_address()));
  }
  absl::StatusOr<const engine::ChainBackend*> chain = ChainFor(ctx, k.chain_id(), /*check_rpc=*/true);
  if (!chain.ok()) return chain.status();
  return run.Succeed(nullptr, absl::StrCat("KMS ", k.id(), " on chain ", k.chain_id(), ", contract ",
                                           k.kms_contract_address(), "; RPC serves chain ", k.chain_id()));
}

absl::Status DeployAppAuth(OpContext& ctx, StepRun& run, const v1::DeployCvmRequest& req) {
  const state::FlowState st = ctx.State();
  const state::Provision& prov = st.provision();
  absl::StatusOr<const engine::ChainBackend*> chain = ChainFor(ctx, prov.kms_info().chain_id(), /*check_rpc=*/false);
  if (!chain.ok()) return chain.status();
  absl::StatusOr<chain::Address> sender = SignerKey(ctx);
  if (!sender.ok()) return sender.status();
  absl::StatusOr<chain::Address> kms =
      AddressField("provision.kms_info.kms_contract_address", prov.kms_info().kms_contract_address());
  if (!kms.ok()) return absl::FailedPreconditionError(absl::StrCat("kms contract: ", kms.status().message()));
  chain::onchain::DeployAppAuthRequest d;
  d.chain_id = prov.kms_info().chain_id();
  d.kms = *kms;
  d.sender = *sender;
  if (!req.app_owner_address().empty()) {
    absl::StatusOr<chain::Address> owner = chain::Address::Parse(req.app_owner_address());
    if (!owner.ok()) return owner.status();
    d.params.initial_owner = *owner;
  } else {
    d.params.initial_owner = *sender;
  }
  ASSIGN_OR_RETURN(const std::optional<chain::Hash32> device,
                   OptionalHashField("device_id", !req.device_id().empty() ? req.device_id() : prov.device_id()));
  if (device.has_value()) d.params.initial_device_id = *device;
  // As the SDK: a specific device id forces allowAnyDevice off.
  d.params.allow_any_device = req.allow_any_device() && d.params.initial_device_id.IsZero();
  d.params.disable_upgrades = req.disable_upgrades();
  if (req.has_require_tcb_up_to_date()) d.params.require_tcb_up_to_date = req.require_tcb_up_to_date();
  ASSIGN_OR_RETURN(const chain::Hash32 hash, HashField("provision.compose_hash", prov.compose_hash()));
  d.params.initial_compose_hash = hash;

  absl::StatusOr<chain::onchain::DeployAppAuthResult> r = RunDeployAppAuth(ctx, run, **chain, d);
  if (!r.ok()) return r.status();
  RETURN_IF_ERROR(RecordOwned(ctx, journal::kResourceApp, OnchainAppResource(d.chain_id, r->app_id)));
  state::AppAuth a;
  a.set_chain_id(d.chain_id);
  a.set_kms_contract_address(ToField(*kms));
  a.set_sender(ToField(*sender));
  a.set_app_id(ToField(r->app_id));
  a.set_deployer(ToField(r->deployer));
  a.set_transaction_hash(ToField(r->tx_hash));
  a.set_block_number(r->block_number);
  a.set_device_id(ToField(d.params.initial_device_id));
  a.set_compose_hash(ToField(hash));
  return run.Succeed(
      [&](v1::Operation& op, state::FlowState& st) {
        *st.mutable_app_auth() = a;
        v1::DeployResult* res = op.mutable_deploy();
        res->set_app_id(a.app_id());
        res->set_app_auth_contract_address(a.app_id());
        res->set_deployer_address(a.deployer());
        res->set_deploy_transaction_hash(a.transaction_hash());
        res->set_deploy_block_number(a.block_number());
        res->set_device_id(device.has_value() ? device->Hex() : "");
        if (v1::Step* s = engine::FindStep(op, kDeployAppAuth)) {
          s->set_transaction_hash(a.transaction_hash());
          s->set_block_number(a.block_number());
        }
      },
      absl::StrCat("AppAuth ", a.app_id(), " deployed in block ", a.block_number()));
}

// The CVM already exists for this app id: our commit went through before a restart.
absl::StatusOr<std::optional<cloudapi::CvmInfo>> FindCommitted(OpContext& ctx, const chain::Address& app_id) {
  absl::StatusOr<cloudapi::CvmInfo> info = ctx.deps().cloud->GetCvmInfo(cloudapi::CvmRef::App(app_id));
  if (absl::IsNotFound(info.status())) return std::optional<cloudapi::CvmInfo>();
  if (!info.ok()) return info.status();
  return std::optional<cloudapi::CvmInfo>(*std::move(info));
}

// The new CVM belongs to the operation's tenant under its id and under its app id (a request may
// name it either way).
absl::Status RecordCvm(OpContext& ctx, const std::string& cvm_id, const chain::Address& app_id) {
  ASSIGN_OR_RETURN(const std::string resource, CvmResource(cvm_id));
  return RecordOwned(ctx, journal::kResourceCvm, std::vector<std::string>{resource, CvmResourceOfApp(app_id)});
}

absl::Status AdoptCommitted(OpContext& ctx, StepRun& run, const cloudapi::CvmInfo& info, const chain::Address& app_id,
                            absl::string_view why) {
  RETURN_IF_ERROR(RecordCvm(ctx, info.id, app_id));
  return run.Succeed(
      [&](v1::Operation& op, state::FlowState&) {
        op.set_cvm_id(info.id);
        op.mutable_deploy()->set_cvm_id(info.id);
        op.mutable_deploy()->set_status(info.status);
      },
      absl::StrCat("CVM ", info.id, " ", why));
}

absl::Status Commit(OpContext& ctx, StepRun& run, const v1::DeployCvmRequest& req) {
  const bool onchain = OnChain(req.kms_type());
  const state::FlowState st = ctx.State();
  const state::Provision& prov = st.provision();
  ASSIGN_OR_RETURN(const chain::Address app_id, onchain ? AddressField("app_auth.app_id", st.app_auth().app_id())
                                                        : AddressField("provision.app_id", prov.app_id()));
  if (run.effect_may_have_happened()) {
    absl::StatusOr<std::optional<cloudapi::CvmInfo>> found = FindCommitted(ctx, app_id);
    if (!found.ok()) return found.status();
    if (found->has_value()) return AdoptCommitted(ctx, run, **found, app_id, "was committed before a restart");
  }
  cloudapi::CommitCvmProvisionRequest c;
  c.app_id = app_id;
  ASSIGN_OR_RETURN(c.compose_hash, HashField("provision.compose_hash", prov.compose_hash()));
  if (st.env_encrypted() && !st.encrypted_env().empty()) c.encrypted_env = st.encrypted_env();
  const state::KmsInfo& k = prov.kms_info();
  const std::string kms_ref = !k.slug().empty() ? k.slug() : !k.id().empty() ? k.id() : prov.kms_id();
  if (!kms_ref.empty()) c.kms_id = kms_ref;
  if (onchain) {
    c.contract_address = app_id;
    ASSIGN_OR_RETURN(c.deployer_address, AddressField("app_auth.deployer", st.app_auth().deployer()));
  }
  if (req.env_vars_size() > 0) c.env_keys = std::vector<std::string>(st.env_keys().begin(), st.env_keys().end());
  RETURN_IF_ERROR(run.SendingEffect());
  absl::StatusOr<cloudapi::CommitCvmProvisionResponse> r = ctx.deps().cloud->CommitCvmProvision(c);
  if (cloudapi::IsAppIdConflict(r.status())) {
    absl::StatusOr<std::optional<cloudapi::CvmInfo>> found = FindCommitted(ctx, app_id);
    if (!found.ok()) return found.status();
    if (found->has_value()) return AdoptCommitted(ctx, run, **found, app_id, "was already committed");
    return r.status();
  }
  if (!r.ok()) return r.status();
  std::string cvm_id = r->vm_uuid.has_value() ? absl::StrReplaceAll(*r->vm_uuid, {{"-", ""}}) : absl::StrCat(r->id);
  RETURN_IF_ERROR(RecordCvm(ctx, cvm_id, app_id));
  return run.Succeed(
      [&](v1::Operation& op, state::FlowState&) {
        op.set_cvm_id(cvm_id);
        op.mutable_deploy()->set_cvm_id(cvm_id);
        op.mutable_deploy()->set_status(r->status);
      },
      absl::StrCat("CVM ", cvm_id, " committed (", r->status, ")"));
}

absl::Status GetEnvPubkey(OpContext& ctx, StepRun& run, const v1::DeployCvmRequest&) {
  const state::FlowState st = ctx.State();
  const state::KmsInfo& k = st.provision().kms_info();
  ASSIGN_OR_RETURN(const chain::Address app, AddressField("app_auth.app_id", st.app_auth().app_id()));
  ASSIGN_OR_RETURN(const state::EnvPubkey key,
                   FetchEnvPubkey(ctx, k.slug().empty() ? k.id() : k.slug(), app.Checksummed(), {k.id(), k.slug()}));
  return run.Succeed([&](v1::Operation&, state::FlowState& st) { *st.mutable_env_pubkey() = key; },
                     key.verified()         ? std::string("signature verified against the trusted KMS key")
                     : key.signer().empty() ? std::string("no KMS signature sent")
                                            : absl::StrCat("signed by KMS key ", key.signer()));
}

absl::Status EncryptEnv(OpContext& ctx, StepRun& run, const v1::DeployCvmRequest& req) {
  const bool onchain = OnChain(req.kms_type());
  const state::FlowState st = ctx.State();
  const std::string key = onchain ? st.env_pubkey().public_key() : st.provision().app_env_encrypt_pubkey();
  if (key.empty() && (st.needs_env_values() || onchain)) {
    return absl::FailedPreconditionError("the API gave no env-encryption public key for the app");
  }
  // The CLI encrypts an empty list on chain; PHALA sends none.
  return EncryptEnvStep(ctx, run, key, /*encrypt_empty=*/onchain);
}

bool OnChainRequest(const v1::DeployCvmRequest& req) { return OnChain(req.kms_type()); }

}  // namespace

std::unique_ptr<engine::Flow> NewDeployFlow() {
  using engine::BeforeEffect;
  return std::make_unique<engine::StepTable<v1::DeployCvmRequest>>(std::vector<engine::Step<v1::DeployCvmRequest>>{
      {.name = kProvision, .effect = Provision},
      {.name = kCheckKms, .effect = CheckKms, .included = OnChainRequest},
      {.name = kDeployAppAuth,
       .before = BeforeEffect::kTransaction,
       .effect = DeployAppAuth,
       .included = OnChainRequest},
      {.name = kGetEnvPubkey, .effect = GetEnvPubkey, .included = OnChainRequest},
      {.name = kEncryptEnv, .effect = EncryptEnv},
      {.name = kCommit, .before = BeforeEffect::kEffectSent, .effect = Commit},
      WaitRunningStep<v1::DeployCvmRequest>(),
  });
}

}  // namespace orchestrator::flows
