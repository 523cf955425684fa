// Simulator: provision and commit (with the on-chain checks of a new app), and the CVM reads.
#include <algorithm>
#include <map>
#include <set>

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "test/cloudsim/api_util.h"
#include "test/cloudsim/eth_forms.h"
#include "test/cloudsim/simulator.h"

namespace cloudsim {

namespace json = boost::json;
using api::BoolOf;
using api::ComposePayloadSize;
using api::CvmNotFound;
using api::Fields;
using api::InstanceType;
using api::Int;
using api::JsonResponse;
using api::KeySet;
using api::kInstanceTypes;
using api::kMaxComposePayload;
using api::NowIso;
using api::NullIfEmpty;
using api::Number;
using api::Pad32;
using api::ParseBodyObject;
using api::RpcUnavailable;
using api::ServiceComposeHash;
using api::Str;
using api::Structured;
using api::ValidHostname;

// ---------------------------------------------------------------------------------------------
// Provision and commit.

HttpResponse Simulator::Provision(const Ctx& c) {
  json::object body;
  if (std::optional<HttpResponse> err = ParseBodyObject(c.req, &body)) return *err;
  Fields f(body);
  std::optional<std::string> name = f.Str("name", true);
  const json::object* cf = f.Obj("compose_file", true);
  std::optional<std::string> instance_type = f.Str("instance_type");
  std::optional<int64_t> vcpu = f.Int("vcpu");
  std::optional<int64_t> memory = f.Int("memory");
  std::optional<int64_t> disk = f.Int("disk_size");
  std::optional<int64_t> teepod = f.Int("teepod_id");
  if (!teepod) teepod = f.Int("node_id");
  std::optional<std::string> kms = f.Str("kms");
  std::optional<std::string> kms_id = f.Str("kms_id");
  std::optional<std::string> kms_contract = f.Str("kms_contract");
  std::optional<json::array> env_keys = f.StrList("env_keys");
  std::optional<int64_t> nonce = f.Int("nonce");
  std::optional<std::string> req_app_id = f.Str("app_id");
  std::optional<bool> listed = f.Bool("listed");
  (void)f.Str("image");
  (void)f.Str("region");
  if (name && !ValidHostname(*name)) {
    f.ValueError("name", "Name must be 5-63 characters, start with letter, and contain only letters/numbers/hyphens",
                 json::value(*name));
  }
  if (kms && *kms != "PHALA" && *kms != "ETHEREUM" && *kms != "BASE") {
    f.Add("kms", "enum", "Input should be 'PHALA', 'ETHEREUM' or 'BASE'", json::value(*kms));
  }
  const json::object empty_compose_file;
  Fields cff(cf ? *cf : empty_compose_file, f, "compose_file");
  std::optional<std::string> dcf, pls, cf_name, storage_fs;
  std::optional<bool> kms_enabled, public_logs, public_sysinfo, public_tcbinfo, gateway, tproxy;
  std::optional<json::array> allowed;
  if (cf != nullptr) {
    dcf = cff.Str("docker_compose_file");
    pls = cff.Str("pre_launch_script");
    cf_name = cff.Str("name");
    storage_fs = cff.Str("storage_fs");
    kms_enabled = cff.Bool("kms_enabled");
    public_logs = cff.Bool("public_logs");
    public_sysinfo = cff.Bool("public_sysinfo");
    public_tcbinfo = cff.Bool("public_tcbinfo");
    gateway = cff.Bool("gateway_enabled");
    tproxy = cff.Bool("tproxy_enabled");
    allowed = cff.StrList("allowed_envs");
    if (storage_fs && *storage_fs != "ext4" && *storage_fs != "zfs") {
      cff.Add("storage_fs", "enum", "Input should be 'ext4' or 'zfs'", json::value(*storage_fs));
    }
  }
  if (!f.ok()) return f.Error();  // includes body.compose_file.* errors

  // Business rules, in the order the service would hit them.
  if (!dcf || dcf->empty()) {
    return Structured(400, "ERR-01-002", "compose_file.docker_compose_file is required");
  }
  json::object compose;
  json::array allowed_envs = allowed.value_or(json::array());
  {
    std::set<std::string> have;
    for (const json::value& k : allowed_envs) have.insert(std::string(k.get_string()));
    if (env_keys) {
      for (const json::value& k : *env_keys) {
        if (have.insert(std::string(k.get_string())).second) allowed_envs.push_back(k);
      }
    }
  }
  compose["allowed_envs"] = allowed_envs;
  compose["docker_compose_file"] = *dcf;
  compose["features"] = json::array{"kms", "tproxy-net"};
  compose["gateway_enabled"] = gateway.value_or(tproxy.value_or(true));
  compose["kms_enabled"] = kms_enabled.value_or(true);
  compose["key_provider_id"] = "";
  compose["local_key_provider_enabled"] = false;
  compose["manifest_version"] = 2;
  compose["name"] = cf_name && !cf_name->empty() ? *cf_name : *name;
  compose["no_instance_id"] = false;
  if (pls) compose["pre_launch_script"] = *pls;
  compose["public_logs"] = public_logs.value_or(true);
  compose["public_sysinfo"] = public_sysinfo.value_or(true);
  compose["public_tcbinfo"] = public_tcbinfo.value_or(true);
  compose["runner"] = "docker-compose";
  compose["secure_time"] = false;
  if (storage_fs) compose["storage_fs"] = *storage_fs;
  if (ComposePayloadSize(compose) > kMaxComposePayload) {
    return Structured(400, "ERR-01-003",
                      absl::StrCat("Combined size of docker_compose_file and pre_launch_script "
                                   "must not exceed 200KB (current: ",
                                   (ComposePayloadSize(compose) + 1023) / 1024, "KB)"));
  }

  std::string itype = instance_type.value_or("");
  int64_t cpu = 0, mem = 0;
  if (!itype.empty()) {
    const InstanceType* t = nullptr;
    for (const InstanceType& it : kInstanceTypes) {
      if (itype == it.name) t = &it;
    }
    if (t == nullptr) return Structured(404, "ERR-02-001", absl::StrCat("Instance type '", itype, "' not found"));
    cpu = t->vcpu;
    mem = t->memory_mb;
  } else {
    cpu = vcpu.value_or(1);
    mem = memory.value_or(2048);
  }
  const Node* node = FindNode(teepod.value_or(config_.node_id));
  if (node == nullptr) return Structured(404, "ERR-01-001", absl::StrCat("Node ", *teepod, " not found"));

  // KMS selection: kms_id wins; else the kms type (PHALA by default); kms_contract must match.
  const Kms* k = nullptr;
  if (kms_id) {
    k = FindKms(*kms_id);
    if (k == nullptr) return Structured(404, "ERR-02-011", absl::StrCat("KMS '", *kms_id, "' not found"));
    if (kms && *kms != k->type) {
      return Structured(400, "ERR-02-009", absl::StrCat("KMS '", *kms_id, "' is of type ", k->type, ", not ", *kms));
    }
  } else {
    std::string type = kms.value_or("PHALA");
    for (const Kms& e : kms_) {
      if (e.type == type) {
        k = &e;
        break;
      }
    }
    if (k == nullptr) return Structured(404, "ERR-02-011", absl::StrCat("No ", type, " KMS is available"));
  }
  if (kms_contract) {
    std::optional<std::string> want = NormalizeAddress(*kms_contract);
    if (k->type == "PHALA" || !want || *want != k->contract) {
      return Structured(404, "ERR-02-011", absl::StrCat("KMS contract ", *kms_contract, " not found"));
    }
  }

  absl::MutexLock lock(&state_mu_);
  if (store_->FindCvm("name", *name)) {
    return Structured(409, "ERR-01-004", absl::StrCat("A CVM named '", *name, "' already exists"));
  }
  json::value app_id = nullptr;
  json::value pubkey = nullptr;
  if (k->type == "PHALA") {
    int64_t next = 0;
    if (std::optional<std::string> n = store_->GetMeta("phala_nonce")) (void)absl::SimpleAtoi(*n, &next);
    int64_t use = next;
    if (nonce) {
      if (!req_app_id) return Structured(400, "ERR-02-008", "app_id is required when nonce is given");
      if (*nonce < 0) return Structured(400, "ERR-02-008", "nonce must not be negative");
      use = *nonce;
    }
    std::string id = PhalaAppId(use);
    if (req_app_id) {
      std::optional<std::string> want = NormalizeAddress(*req_app_id);
      if (!want || *want != id) {
        return Structured(400, "ERR-02-008",
                          absl::StrCat("app_id ", *req_app_id, " does not match nonce ", use, " (expected ", id, ")"));
      }
    }
    if (store_->FindCvm("app_id", id)) {
      return Structured(409, "ERR-03-007", absl::StrCat("App ID ", id, " is already in use"));
    }
    (void)store_->SetMeta("phala_nonce", std::to_string(std::max(next, use + 1)));
    app_id = id;
    pubkey = AppKey(id).second;
  } else if (nonce) {
    return Structured(400, "ERR-02-008", "nonce is only supported with the PHALA KMS");
  }
  std::string compose_hash = ServiceComposeHash(compose);

  json::object p;
  p["name"] = *name;
  p["kms_id"] = k->info.at("id");
  p["app_id"] = app_id;
  p["app_compose"] = compose;
  p["compose_hash"] = compose_hash;
  p["instance_type"] = NullIfEmpty(itype);
  p["vcpu"] = cpu;
  p["memory"] = mem;
  p["disk_size"] = disk.value_or(20);
  p["teepod_id"] = node->id;
  p["device_id"] = node->device_id;
  p["listed"] = listed.value_or(false);
  p["created_at"] = NowIso();
  store_->InsertProvision(compose_hash, p);

  json::object out;
  out["app_id"] = app_id;
  out["app_env_encrypt_pubkey"] = pubkey;
  out["compose_hash"] = compose_hash;
  out["kms_info"] = k->info;
  out["fmspc"] = config_.fmspc;
  out["device_id"] = node->device_id;
  out["os_image_hash"] = os_image_hash_;
  out["instance_type"] = NullIfEmpty(itype);
  out["teepod_id"] = node->id;
  out["kms_id"] = k->info.at("id");
  return JsonResponse(200, out);
}

HttpResponse Simulator::Commit(const Ctx& c) {
  json::object body;
  if (std::optional<HttpResponse> err = ParseBodyObject(c.req, &body)) return *err;
  Fields f(body);
  std::optional<std::string> app_id_raw = f.Str("app_id", true);
  std::optional<std::string> hash_raw = f.Str("compose_hash", true);
  std::optional<std::string> encrypted_env = f.Str("encrypted_env");
  std::optional<std::string> kms_ref = f.Str("kms_id");
  std::optional<std::string> contract_raw = f.Str("contract_address");
  std::optional<std::string> deployer_raw = f.Str("deployer_address");
  std::optional<json::array> env_keys = f.StrList("env_keys");
  std::optional<std::string> app_id = app_id_raw ? NormalizeAddress(*app_id_raw) : std::nullopt;
  if (app_id_raw && !app_id) {
    f.ValueError("app_id", "app_id must be 40 hex characters, optionally 0x-prefixed", json::value(*app_id_raw));
  }
  std::optional<std::string> deployer = deployer_raw ? NormalizeAddress(*deployer_raw) : std::nullopt;
  if (deployer_raw && !deployer) {
    f.ValueError("deployer_address", "deployer_address must be a 20-byte hex address", json::value(*deployer_raw));
  }
  std::optional<std::string> contract = contract_raw ? NormalizeAddress(*contract_raw) : std::nullopt;
  if (contract_raw && !contract) {
    f.ValueError("contract_address", "contract_address must be a 20-byte hex address", json::value(*contract_raw));
  }
  if (!f.ok()) return f.Error();
  std::string compose_hash = absl::AsciiStrToLower(absl::StripPrefix(*hash_raw, "0x"));

  std::optional<Row> prov;
  {
    absl::MutexLock lock(&state_mu_);
    if (store_->FindCvm("app_id", *app_id)) {
      return Structured(409, "ERR-03-007", absl::StrCat("App ID ", *app_id, " is already in use by another CVM"));
    }
    prov = store_->FindOpenProvision(compose_hash);
  }
  if (!prov) {
    return Structured(466, "ERR-01-006",
                      absl::StrCat("Compose hash ", compose_hash, " is invalid or expired: provision the CVM first"));
  }
  const Kms* k = KmsById(Str(prov->data, "kms_id"));
  if (k == nullptr) return Structured(404, "ERR-02-011", "The provision's KMS is no longer configured");
  if (kms_ref) {
    const Kms* named = FindKms(*kms_ref);
    if (named == nullptr) return Structured(404, "ERR-02-011", absl::StrCat("KMS '", *kms_ref, "' not found"));
    if (named != k) {
      return Structured(
          400, "ERR-02-009",
          absl::StrCat("kms_id '", *kms_ref, "' does not match the provisioned KMS '", Str(k->info, "id"), "'"));
    }
  }
  if (k->type == "PHALA") {
    if (Str(prov->data, "app_id") != *app_id) {
      return Structured(
          400, "ERR-02-008",
          absl::StrCat("app_id ", *app_id, " does not match the provisioned app_id ", Str(prov->data, "app_id")));
    }
  } else {
    // The app must be an app of this KMS factory, owned/deployed by who the client says.
    if (contract && *contract != *app_id) {
      return Structured(400, "ERR-02-008",
                        absl::StrCat("contract_address 0x", *contract, " differs from app_id 0x", *app_id,
                                     " (the app id is the DstackApp address)"));
    }
    absl::StatusOr<bool> registered = rpc_->CallBool(k->contract, kSelRegisteredApps, *app_id);
    if (!registered.ok()) {
      if (registered.status().code() == absl::StatusCode::kFailedPrecondition) {
        return Structured(400, "ERR-02-008",
                          absl::StrCat("KMS contract ", ChecksumAddress(k->contract),
                                       " does not answer registeredApps(address): ", registered.status().message()));
      }
      return RpcUnavailable(registered.status());
    }
    if (!*registered) {
      return Structured(400, "ERR-02-008",
                        absl::StrCat("App ", ChecksumAddress(*app_id), " is not registered with KMS contract ",
                                     ChecksumAddress(k->contract), " on chain ", config_.chain_id));
    }
    if (deployer) {
      json::object filter;
      filter["address"] = ChecksumAddress(k->contract);
      filter["fromBlock"] = "0x0";
      filter["toBlock"] = "latest";
      filter["topics"] = json::array{json::value(absl::StrCat("0x", kTopicAppDeployedViaFactory)),
                                     json::value(absl::StrCat("0x", Pad32(*app_id)))};
      absl::StatusOr<json::array> logs = rpc_->GetLogs(filter);
      if (!logs.ok()) return RpcUnavailable(logs.status());
      std::string event_deployer;
      for (const json::value& l : *logs) {
        const json::value* topics = l.as_object().if_contains("topics");
        if (topics && topics->is_array() && topics->get_array().size() >= 3) {
          std::string t2 = absl::AsciiStrToLower(std::string(topics->get_array()[2].as_string()));
          event_deployer = t2.substr(t2.size() - 40);
        }
      }
      absl::StatusOr<std::string> owner = rpc_->CallOwner(*app_id);
      if (!owner.ok() && owner.status().code() != absl::StatusCode::kFailedPrecondition &&
          owner.status().code() != absl::StatusCode::kAborted) {
        return RpcUnavailable(owner.status());
      }
      bool match = (!event_deployer.empty() && event_deployer == *deployer) || (owner.ok() && *owner == *deployer);
      if (!match) {
        return Structured(
            400, "ERR-02-008",
            absl::StrCat("deployer_address ", ChecksumAddress(*deployer),
                         " is neither the AppDeployedViaFactory deployer (",
                         event_deployer.empty() ? "no event" : ChecksumAddress(event_deployer), ") nor the owner (",
                         owner.ok() ? ChecksumAddress(*owner) : "unknown", ") of app ", ChecksumAddress(*app_id)));
      }
    }
    absl::StatusOr<bool> allowed = rpc_->CallBool(*app_id, kSelAllowedComposeHashes, compose_hash);
    if (!allowed.ok()) {
      if (allowed.status().code() == absl::StatusCode::kFailedPrecondition ||
          allowed.status().code() == absl::StatusCode::kAborted) {
        return Structured(400, "ERR-02-008",
                          absl::StrCat("App ", ChecksumAddress(*app_id),
                                       " does not answer allowedComposeHashes(bytes32): ", allowed.status().message()));
      }
      return RpcUnavailable(allowed.status());
    }
    if (!*allowed) {
      return Structured(
          468, "ERR-01-008",
          absl::StrCat("Compose hash ", compose_hash, " is not allowed by app contract ", ChecksumAddress(*app_id)));
    }
  }

  absl::MutexLock lock(&state_mu_);
  if (store_->FindCvm("app_id", *app_id)) {
    return Structured(409, "ERR-03-007", absl::StrCat("App ID ", *app_id, " is already in use by another CVM"));
  }
  std::optional<Row> still = store_->FindOpenProvision(compose_hash);
  if (!still || still->id != prov->id) {
    return Structured(466, "ERR-01-006", absl::StrCat("Compose hash ", compose_hash, " was already committed"));
  }
  const json::object& p = prov->data;
  json::object cvm;
  cvm["vm_uuid"] = RandomUuid4();
  cvm["app_id"] = *app_id;
  cvm["instance_id"] = RandomHex(20);
  cvm["name"] = p.at("name");
  cvm["kms_id"] = p.at("kms_id");
  cvm["kms_type"] = k->type;
  cvm["app_compose"] = p.at("app_compose");
  cvm["compose_hash"] = compose_hash;
  cvm["encrypted_env"] = encrypted_env ? json::value(*encrypted_env) : json::value(nullptr);
  cvm["contract_address"] = k->type == "PHALA" ? json::value(nullptr) : json::value(ChecksumAddress(*app_id));
  cvm["deployer_address"] = deployer ? json::value(ChecksumAddress(*deployer)) : json::value(nullptr);
  StartBoot(cvm, "starting", boot_rules(), std::nullopt);
  for (const char* key : {"instance_type", "vcpu", "memory", "disk_size", "teepod_id", "device_id", "listed"}) {
    cvm[key] = p.at(key);
  }
  cvm["base_image"] = config_.base_image;
  cvm["os_image_hash"] = os_image_hash_;
  cvm["created_at"] = NowIso();
  cvm["updated_at"] = cvm["created_at"];
  cvm["last_correlation_id"] = nullptr;
  cvm["env_keys"] = env_keys ? json::value(*env_keys) : json::value(nullptr);
  int64_t id = store_->InsertCvm(cvm);
  cvm["id"] = id;
  store_->UpdateCvm(id, cvm);
  store_->MarkProvisionCommitted(prov->id);
  store_->AddComposeHistory(id, compose_hash, "", "provision");
  if (encrypted_env) RecordEnv(id, cvm, *encrypted_env, "commit");
  return JsonResponse(200, CommitBody(Row{id, cvm}));
}

void Simulator::RecordEnv(int64_t cvm_id, const json::object& cvm, const std::string& encrypted_env,
                          const char* source) {
  json::object rec;
  rec["source"] = source;
  rec["received_at"] = NowIso();
  rec["encrypted_env_sha256"] = Sha256Hex(encrypted_env);
  const json::value* allowed = cvm.at("app_compose").as_object().if_contains("allowed_envs");
  rec["allowed_envs"] = allowed ? *allowed : json::array();
  rec["env"] = nullptr;
  rec["values"] = nullptr;
  rec["not_allowed"] = json::array();
  rec["decrypt_error"] = nullptr;
  std::optional<std::pair<std::string, std::string>> key = store_->GetAppKey(Str(cvm, "app_id"));
  if (!key) {
    rec["decrypt_error"] = "no env-encryption key was ever issued for this app";
    store_->AddEnvRecord(cvm_id, rec);
    return;
  }
  absl::StatusOr<std::vector<cloudapi::EnvVar>> vars = DecryptEnv(key->first, encrypted_env);
  if (!vars.ok()) {
    rec["decrypt_error"] = std::string(vars.status().message());
    store_->AddEnvRecord(cvm_id, rec);
    return;
  }
  std::set<std::string> allowed_set = KeySet(allowed);
  json::array env;
  json::object values;
  json::array not_allowed;
  for (const cloudapi::EnvVar& v : *vars) {
    json::object e;
    e["key"] = v.key;
    e["value"] = v.value;
    env.push_back(std::move(e));
    values[v.key] = v.value;
    if (!allowed_set.count(v.key)) not_allowed.push_back(json::value(v.key));
  }
  rec["env"] = std::move(env);
  rec["values"] = std::move(values);
  rec["not_allowed"] = std::move(not_allowed);
  store_->AddEnvRecord(cvm_id, rec);
}

json::object Simulator::CommitBody(const Row& row) {
  const json::object& cvm = row.data;
  const json::object& compose = cvm.at("app_compose").as_object();
  json::object o;
  o["id"] = row.id;
  o["name"] = cvm.at("name");
  o["status"] = "starting";
  o["teepod_id"] = cvm.at("teepod_id");
  const Node* node = FindNode(Int(cvm, "teepod_id", config_.node_id));
  json::object teepod;
  teepod["id"] = cvm.at("teepod_id");
  teepod["name"] = node ? node->name : config_.node_name;
  o["teepod"] = std::move(teepod);
  o["user_id"] = 1;
  o["app_id"] = cvm.at("app_id");
  o["vm_uuid"] = cvm.at("vm_uuid");
  o["instance_id"] = cvm.at("instance_id");
  o["app_url"] = absl::StrCat("https://", Str(cvm, "app_id"), "-8080.", config_.gateway_base_domain);
  o["base_image"] = cvm.at("base_image");
  o["vcpu"] = cvm.at("vcpu");
  o["memory"] = cvm.at("memory");
  o["disk_size"] = cvm.at("disk_size");
  o["manifest_version"] = compose.contains("manifest_version") ? compose.at("manifest_version") : json::value(2);
  o["version"] = "1.0.0";
  o["runner"] = compose.contains("runner") ? compose.at("runner") : json::value("docker-compose");
  o["docker_compose_file"] =
      compose.contains("docker_compose_file") ? compose.at("docker_compose_file") : json::value(nullptr);
  o["features"] = compose.contains("features") ? compose.at("features") : json::value(nullptr);
  o["created_at"] = cvm.at("created_at");
  std::optional<std::pair<std::string, std::string>> key = store_->GetAppKey(Str(cvm, "app_id"));
  o["encrypted_env_pubkey"] = key ? json::value(key->second) : json::value(nullptr);
  o["app_auth_contract_address"] = cvm.at("contract_address");
  o["deployer_address"] = cvm.at("deployer_address");
  return o;
}

// ---------------------------------------------------------------------------------------------
// CVM reads.

json::object Simulator::CvmDetail(const Row& row, bool legacy) {
  const json::object& cvm = row.data;
  const json::object& compose = cvm.at("app_compose").as_object();
  const Kms* k = KmsById(Str(cvm, "kms_id"));
  std::optional<std::pair<std::string, std::string>> key = store_->GetAppKey(Str(cvm, "app_id"));
  json::value pubkey = key ? json::value(key->second) : json::value(nullptr);
  std::string app_id = Str(cvm, "app_id");
  const Node* node = FindNode(Int(cvm, "teepod_id", config_.node_id));
  json::object endpoint;
  endpoint["app"] = absl::StrCat("https://", app_id, "-8080.", config_.gateway_base_domain);
  endpoint["instance"] = absl::StrCat("https://", Str(cvm, "instance_id"), "-8080.", config_.gateway_base_domain);
  if (legacy) {
    json::object o;
    o["id"] = row.id;
    o["name"] = cvm.at("name");
    o["status"] = cvm.at("status");
    o["in_progress"] = Booting(cvm);
    o["teepod_id"] = cvm.at("teepod_id");
    json::object teepod;
    teepod["id"] = cvm.at("teepod_id");
    teepod["name"] = node ? node->name : config_.node_name;
    teepod["region_identifier"] = config_.region;
    o["teepod"] = std::move(teepod);
    o["app_id"] = app_id;
    o["vm_uuid"] = cvm.at("vm_uuid");
    o["instance_id"] = cvm.at("instance_id");
    o["vcpu"] = cvm.at("vcpu");
    o["memory"] = cvm.at("memory");
    o["disk_size"] = cvm.at("disk_size");
    o["base_image"] = cvm.at("base_image");
    o["encrypted_env_pubkey"] = pubkey;
    o["listed"] = cvm.at("listed");
    o["project_id"] = nullptr;
    o["project_type"] = nullptr;
    o["instance_type"] = cvm.at("instance_type");
    o["public_sysinfo"] = BoolOf(compose, "public_sysinfo", false);
    o["public_logs"] = BoolOf(compose, "public_logs", false);
    o["dapp_dashboard_url"] = nullptr;
    o["syslog_endpoint"] = nullptr;
    o["kms_info"] = k ? json::value(k->info) : json::value(nullptr);
    o["contract_address"] = cvm.at("contract_address");
    o["deployer_address"] = cvm.at("deployer_address");
    o["scheduled_delete_at"] = nullptr;
    o["public_urls"] = json::array{endpoint};
    o["gateway_domain"] = config_.gateway_base_domain;
    json::object machine;
    machine["vcpu"] = cvm.at("vcpu");
    machine["memory"] = cvm.at("memory");
    machine["disk_size"] = cvm.at("disk_size");
    machine["gpu_count"] = 0;
    o["machine_info"] = std::move(machine);
    o["updated_at"] = cvm.at("updated_at");
    return o;
  }
  json::object o;
  o["id"] = absl::StrReplaceAll(Str(cvm, "vm_uuid"), {{"-", ""}});
  o["name"] = cvm.at("name");
  o["app_id"] = app_id;
  o["vm_uuid"] = cvm.at("vm_uuid");
  o["instance_id"] = cvm.at("instance_id");
  json::object resource;
  resource["instance_type"] = cvm.at("instance_type");
  resource["vcpu"] = cvm.at("vcpu");
  resource["memory_in_gb"] = Number(static_cast<double>(Int(cvm, "memory")) / 1024.0);
  resource["disk_in_gb"] = cvm.at("disk_size");
  resource["gpus"] = 0;
  resource["compute_billing_price"] = nullptr;
  resource["billing_period"] = "hourly";
  o["resource"] = std::move(resource);
  json::object node_info;
  node_info["object_type"] = "node";
  node_info["id"] = cvm.at("teepod_id");
  node_info["name"] = node ? node->name : config_.node_name;
  node_info["region"] = config_.region;
  node_info["device_id"] = node ? node->device_id : device_id_;
  node_info["ppid"] = nullptr;
  node_info["status"] = "online";
  node_info["version"] = config_.os_version;
  o["node_info"] = std::move(node_info);
  json::object os;
  os["name"] = cvm.at("base_image");
  os["version"] = config_.os_version;
  os["is_dev"] = false;
  os["os_image_hash"] = cvm.at("os_image_hash");
  o["os"] = std::move(os);
  std::string type = Str(cvm, "kms_type");
  o["kms_type"] = absl::AsciiStrToLower(type);
  json::object ki;
  bool onchain = type != "PHALA";
  ki["chain_id"] = onchain ? json::value(config_.chain_id) : json::value(nullptr);
  ki["dstack_kms_address"] = onchain && k ? json::value(ChecksumAddress(k->contract)) : json::value(nullptr);
  ki["dstack_app_address"] = onchain ? json::value(ChecksumAddress(app_id)) : json::value(nullptr);
  ki["deployer_address"] = cvm.at("deployer_address");
  ki["rpc_endpoint"] = onchain ? json::value(config_.rpc_url) : json::value(nullptr);
  ki["encrypted_env_pubkey"] = pubkey;
  o["kms_info"] = std::move(ki);
  o["status"] = cvm.at("status");
  json::object progress;
  progress["target"] = Booting(cvm) ? json::value("running") : json::value(nullptr);
  progress["started_at"] = nullptr;
  progress["correlation_id"] = cvm.at("last_correlation_id");
  o["progress"] = std::move(progress);
  o["compose_hash"] = ReportedComposeHash(cvm);
  json::object gateway;
  gateway["base_domain"] = config_.gateway_base_domain;
  gateway["cname"] = nullptr;
  o["gateway"] = std::move(gateway);
  o["services"] = json::array();
  o["endpoints"] = json::array{endpoint};
  o["public_logs"] = BoolOf(compose, "public_logs", false);
  o["public_sysinfo"] = BoolOf(compose, "public_sysinfo", false);
  o["public_tcbinfo"] = BoolOf(compose, "public_tcbinfo", false);
  o["gateway_enabled"] = BoolOf(compose, "gateway_enabled", false);
  o["secure_time"] = BoolOf(compose, "secure_time", false);
  o["listed"] = cvm.at("listed");
  if (const json::value* fs = compose.if_contains("storage_fs"); fs && fs->is_string()) o["storage_fs"] = *fs;
  json::object ws;
  ws["object_type"] = "workspace";
  ws["id"] = "ws_cloudsim";
  ws["name"] = "cloudsim";
  ws["slug"] = "cloudsim";
  ws["avatar_url"] = nullptr;
  o["workspace"] = std::move(ws);
  json::object creator;
  creator["object_type"] = "user";
  creator["id"] = "1";
  creator["username"] = "cloudsim";
  creator["avatar_url"] = nullptr;
  o["creator"] = std::move(creator);
  o["compose_file"] = compose;
  return o;
}

HttpResponse Simulator::GetCvm(const Ctx& c) {
  absl::MutexLock lock(&state_mu_);
  std::optional<Row> cvm = ResolveCvm(c.params[1]);
  if (!cvm) return CvmNotFound(c.params[1]);
  // Each read is one poll of a booting CVM (boot.h).
  if (AdvanceBoot(cvm->data, boot_rules(), /*count_poll=*/true)) store_->UpdateCvm(cvm->id, cvm->data);
  return JsonResponse(200, CvmDetail(*cvm, c.legacy));
}

HttpResponse Simulator::GetComposeFile(const Ctx& c) {
  std::optional<Row> cvm = ResolveCvm(c.params[1]);
  if (!cvm) return CvmNotFound(c.params[1]);
  return JsonResponse(200, cvm->data.at("app_compose"));
}

HttpResponse Simulator::GetDockerComposeYml(const Ctx& c) {
  std::optional<Row> cvm = ResolveCvm(c.params[1]);
  if (!cvm) return CvmNotFound(c.params[1]);
  HttpResponse r;
  r.content_type = "text/yaml; charset=utf-8";
  r.body = Str(cvm->data.at("app_compose").as_object(), "docker_compose_file");
  return r;
}

HttpResponse Simulator::GetPreLaunchScript(const Ctx& c) {
  std::optional<Row> cvm = ResolveCvm(c.params[1]);
  if (!cvm) return CvmNotFound(c.params[1]);
  HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  r.body = Str(cvm->data.at("app_compose").as_object(), "pre_launch_script");
  return r;
}

}  // namespace cloudsim
