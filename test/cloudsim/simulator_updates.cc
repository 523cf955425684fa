// Simulator: updates. A change that keeps the compose hash is applied in one call; a new compose
// hash on an on-chain KMS is held with HTTP 465 until a mined ComposeHashAdded from the app's
// contract proves it (envs, docker-compose, pre-launch-script, patchCvm + confirm / commit-update,
// and the compose-file API, which checks allowedComposeHashes itself).
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
using api::ComposePayloadSize;
using api::CvmNotFound;
using api::ErrItem;
using api::Fields;
using api::Int;
using api::JsonResponse;
using api::KeySet;
using api::kMaxComposePayload;
using api::NowIso;
using api::ParseBodyObject;
using api::RpcUnavailable;
using api::ServiceComposeHash;
using api::Str;
using api::Structured;

// ---------------------------------------------------------------------------------------------
// Updates: same compose -> applied; new compose on an on-chain KMS -> 465 until proven on chain.

HttpResponse Simulator::PreconditionRequired(const json::object& cvm, const std::string& compose_hash,
                                             const json::object* extra) {
  const Kms* k = KmsById(Str(cvm, "kms_id"));
  auto item = [](const char* field, json::value v) {
    json::object o;
    o["field"] = field;
    o["value"] = std::move(v);
    return json::value(std::move(o));
  };
  json::array details = {item("compose_hash", json::value(compose_hash)), item("app_id", cvm.at("app_id")),
                         item("device_id", json::value(device_id_)),
                         item("kms_info", k ? json::value(k->info) : json::value(nullptr))};
  if (extra != nullptr) {
    for (const json::key_value_pair& kv : *extra) details.push_back(item(kv.key().data(), kv.value()));
  }
  return Structured(465, "ERR-01-005",
                    absl::StrCat("Compose hash registration required: add ", compose_hash, " to app contract ",
                                 ChecksumAddress(Str(cvm, "app_id")),
                                 " (addComposeHash), then retry with compose_hash and transaction_hash"),
                    std::move(details),
                    json::array{"Call addComposeHash on the app contract, then retry the request with the "
                                "compose hash and the transaction hash"});
}

std::optional<HttpResponse> Simulator::VerifyProof(const json::object& cvm, const std::string& compose_hash,
                                                   const std::string& tx_hash_raw) {
  std::string app = Str(cvm, "app_id");
  std::optional<std::string> tx = NormalizeBytes32(tx_hash_raw);
  if (!tx) {
    return Structured(467, "ERR-01-007", absl::StrCat("transaction_hash '", tx_hash_raw, "' is not 32 bytes of hex"));
  }
  absl::StatusOr<std::optional<json::object>> receipt = rpc_->GetReceipt(*tx);
  if (!receipt.ok()) return RpcUnavailable(receipt.status());
  if (!receipt->has_value()) {
    return Structured(467, "ERR-01-007", absl::StrCat("Transaction 0x", *tx, " not found or not yet mined"));
  }
  const json::object& r = **receipt;
  if (absl::AsciiStrToLower(Str(r, "status")) != "0x1") {
    return Structured(467, "ERR-01-007",
                      absl::StrCat("Transaction 0x", *tx, " reverted (status ", Str(r, "status"), ")"));
  }
  bool found = false, found_elsewhere = false;
  if (const json::value* logs = r.if_contains("logs"); logs && logs->is_array()) {
    for (const json::value& lv : logs->get_array()) {
      if (!lv.is_object()) continue;
      const json::object& l = lv.get_object();
      const json::value* topics = l.if_contains("topics");
      if (!topics || !topics->is_array() || topics->get_array().empty()) continue;
      if (absl::AsciiStrToLower(std::string(topics->get_array()[0].as_string())) !=
          absl::StrCat("0x", kTopicComposeHashAdded))
        continue;
      if (absl::AsciiStrToLower(Str(l, "data")) != absl::StrCat("0x", compose_hash)) continue;
      if (NormalizeAddress(Str(l, "address")).value_or("") == app) {
        found = true;
      } else {
        found_elsewhere = true;
      }
    }
  }
  if (!found) {
    return Structured(467, "ERR-01-007",
                      absl::StrCat("Transaction 0x", *tx, " has no ComposeHashAdded(0x", compose_hash,
                                   ") event emitted by app contract ", ChecksumAddress(app),
                                   found_elsewhere ? " (the event came from another contract)" : ""));
  }
  absl::StatusOr<bool> allowed = rpc_->CallBool(app, kSelAllowedComposeHashes, compose_hash);
  if (!allowed.ok()) return RpcUnavailable(allowed.status());
  if (!*allowed) {
    return Structured(468, "ERR-01-008",
                      absl::StrCat("Compose hash ", compose_hash, " is not allowed by app contract ",
                                   ChecksumAddress(app), " (removed after the transaction?)"));
  }
  return std::nullopt;
}

std::string Simulator::Apply(Row& cvm, const json::object& new_compose, const std::optional<std::string>& encrypted_env,
                             const char* source, const std::string& tx_hash) {
  std::string new_hash = ServiceComposeHash(new_compose);
  std::string old_hash = Str(cvm.data, "compose_hash");
  if (new_hash != old_hash) {
    store_->AddComposeHistory(cvm.id, new_hash, tx_hash, source);
  }
  cvm.data["app_compose"] = new_compose;
  cvm.data["compose_hash"] = new_hash;
  if (encrypted_env) cvm.data["encrypted_env"] = *encrypted_env;
  std::string corr = RandomUuid4();
  cvm.data["last_correlation_id"] = corr;
  cvm.data["updated_at"] = NowIso();
  // The CVM restarts with the change; reads show the hash it ran until the boot ends (boot.h).
  StartBoot(cvm.data, "restarting", boot_rules(), old_hash);
  store_->UpdateCvm(cvm.id, cvm.data);
  if (encrypted_env) RecordEnv(cvm.id, cvm.data, *encrypted_env, source);
  return corr;
}

std::string Simulator::ApplyPending(const Row& cvm, const Row& pending, const char* source,
                                    const std::string& tx_hash) {
  absl::MutexLock lock(&state_mu_);
  std::optional<Row> fresh = store_->GetCvm(cvm.id);
  Row row = fresh ? *fresh : cvm;
  store_->MarkPendingDone(pending.id);
  const json::value* pending_env = pending.data.if_contains("encrypted_env");
  std::optional<std::string> env;
  if (pending_env && pending_env->is_string()) env = std::string(pending_env->get_string());
  return Apply(row, pending.data.at("app_compose").as_object(), env, source, tx_hash);
}

HttpResponse Simulator::ApplyOrRequireProof(Row cvm, json::object new_compose, std::optional<std::string> encrypted_env,
                                            std::optional<json::array> env_keys, const char* kind,
                                            const std::string* claimed_hash, const std::string* tx_hash,
                                            bool envs_endpoint) {
  (void)env_keys;
  const Kms* k = KmsById(Str(cvm.data, "kms_id"));
  std::string new_hash = ServiceComposeHash(new_compose);
  bool changed = new_hash != Str(cvm.data, "compose_hash");
  auto accepted = [&](const std::string& corr) {
    json::object o;
    o["status"] = "in_progress";
    o["message"] = envs_endpoint ? "Environment variables update in progress" : "Update in progress";
    o["correlation_id"] = corr;
    if (envs_endpoint) o["allowed_envs_changed"] = changed;
    return JsonResponse(200, o);
  };
  if (!changed || k == nullptr || k->type == "PHALA") {
    absl::MutexLock lock(&state_mu_);
    return accepted(Apply(cvm, new_compose, encrypted_env, kind, ""));
  }
  bool have_proof = claimed_hash && !claimed_hash->empty() && tx_hash && !tx_hash->empty();
  if (!have_proof) {
    json::object pending;
    pending["kind"] = kind;
    pending["app_compose"] = new_compose;
    pending["encrypted_env"] = encrypted_env ? json::value(*encrypted_env) : json::value(nullptr);
    {
      absl::MutexLock lock(&state_mu_);
      store_->InsertPending(cvm.id, new_hash, RandomHex(16), pending);
    }
    return PreconditionRequired(cvm.data, new_hash, nullptr);
  }
  std::string claimed = absl::AsciiStrToLower(absl::StripPrefix(*claimed_hash, "0x"));
  if (claimed != new_hash) {
    return Structured(466, "ERR-01-006",
                      absl::StrCat("Compose hash ", claimed, " is invalid or expired: this change has compose hash ",
                                   new_hash, "; start the update again"));
  }
  if (std::optional<HttpResponse> err = VerifyProof(cvm.data, new_hash, *tx_hash)) return *err;
  absl::MutexLock lock(&state_mu_);
  std::optional<Row> fresh = store_->GetCvm(cvm.id);
  if (fresh) cvm = *fresh;
  if (std::optional<Row> p = store_->FindPending(cvm.id, "compose_hash", new_hash)) store_->MarkPendingDone(p->id);
  return accepted(Apply(cvm, new_compose, encrypted_env, kind, *tx_hash));
}

HttpResponse Simulator::UpdateEnvs(const Ctx& c) {
  json::object body;
  if (std::optional<HttpResponse> err = ParseBodyObject(c.req, &body)) return *err;
  Fields f(body);
  std::optional<std::string> enc = f.Str("encrypted_env", true);
  std::optional<json::array> env_keys = f.StrList("env_keys");
  std::optional<std::string> claimed = f.Str("compose_hash");
  std::optional<std::string> tx = f.Str("transaction_hash");
  if (!f.ok()) return f.Error();
  std::optional<Row> cvm = ResolveCvm(c.params[1]);
  if (!cvm) return CvmNotFound(c.params[1]);
  json::object compose = cvm->data.at("app_compose").as_object();
  if (env_keys) {
    json::value current = compose.contains("allowed_envs") ? compose.at("allowed_envs") : json::value(json::array());
    json::value wanted = *env_keys;
    if (KeySet(&current) != KeySet(&wanted)) compose["allowed_envs"] = *env_keys;
  }
  return ApplyOrRequireProof(*cvm, compose, enc, env_keys, "envs", claimed ? &*claimed : nullptr, tx ? &*tx : nullptr,
                             /*envs_endpoint=*/true);
}

HttpResponse Simulator::RawTextUpdate(const Ctx& c, const char* field, const char* kind) {
  if (c.req.body.empty()) {
    json::object o;
    o["detail"] = json::array{ErrItem({json::value("body")}, "missing", "Field required", nullptr)};
    return JsonResponse(422, o);
  }
  std::optional<Row> cvm = ResolveCvm(c.params[1]);
  if (!cvm) return CvmNotFound(c.params[1]);
  json::object compose = cvm->data.at("app_compose").as_object();
  compose[field] = c.req.body;
  if (ComposePayloadSize(compose) > kMaxComposePayload) {
    return Structured(400, "ERR-01-003",
                      "Combined size of docker_compose_file and pre_launch_script must not exceed 200KB");
  }
  return ApplyOrRequireProof(*cvm, compose, std::nullopt, std::nullopt, kind, c.req.Header("x-compose-hash"),
                             c.req.Header("x-transaction-hash"),
                             /*envs_endpoint=*/false);
}

HttpResponse Simulator::UpdateDockerCompose(const Ctx& c) {
  return RawTextUpdate(c, "docker_compose_file", "docker_compose");
}

HttpResponse Simulator::UpdatePreLaunchScript(const Ctx& c) {
  return RawTextUpdate(c, "pre_launch_script", "pre_launch_script");
}

// ---------------------------------------------------------------------------------------------
// The compose-file API: provision (hash + registration status) then commit (verified on chain).

HttpResponse Simulator::ProvisionComposeFile(const Ctx& c) {
  json::object body;
  if (std::optional<HttpResponse> err = ParseBodyObject(c.req, &body)) return *err;
  Fields f(body);
  (void)f.Str("docker_compose_file", true);
  std::optional<bool> update_env_vars = f.Bool("update_env_vars");
  (void)f.StrList("allowed_envs");
  if (!f.ok()) return f.Error();
  std::optional<Row> cvm = ResolveCvm(c.params[1]);
  if (!cvm) return CvmNotFound(c.params[1]);
  json::object compose = cvm->data.at("app_compose").as_object();
  for (const json::key_value_pair& kv : body) {
    if (kv.key() == "update_env_vars") continue;
    compose[kv.key()] = kv.value();
  }
  if (ComposePayloadSize(compose) > kMaxComposePayload) {
    return Structured(400, "ERR-01-003",
                      "Combined size of docker_compose_file and pre_launch_script must not exceed 200KB");
  }
  std::string hash = ServiceComposeHash(compose);
  const Kms* k = KmsById(Str(cvm->data, "kms_id"));
  bool registered = false;
  if (k != nullptr && k->type != "PHALA") {
    absl::StatusOr<bool> allowed = rpc_->CallBool(Str(cvm->data, "app_id"), kSelAllowedComposeHashes, hash);
    registered = allowed.ok() && *allowed;
  }
  json::object pending;
  pending["kind"] = "compose_file";
  pending["app_compose"] = compose;
  pending["update_env_vars"] = update_env_vars ? json::value(*update_env_vars) : json::value(nullptr);
  {
    absl::MutexLock lock(&state_mu_);
    store_->InsertPending(cvm->id, hash, RandomHex(16), pending);
  }
  json::object o;
  o["app_id"] = cvm->data.at("app_id");
  o["device_id"] = device_id_;
  o["compose_hash"] = hash;
  o["kms_info"] = k ? json::value(k->info) : json::value(nullptr);
  o["compose_hash_registered"] = registered;
  return JsonResponse(200, o);
}

HttpResponse Simulator::CommitComposeFile(const Ctx& c) {
  json::object body;
  if (std::optional<HttpResponse> err = ParseBodyObject(c.req, &body)) return *err;
  Fields f(body);
  std::optional<std::string> hash_raw = f.Str("compose_hash", true);
  std::optional<std::string> enc = f.Str("encrypted_env");
  (void)f.StrList("env_keys");
  (void)f.Bool("update_env_vars");
  if (hash_raw && hash_raw->empty()) f.ValueError("compose_hash", "Compose hash is required", json::value(""));
  if (!f.ok()) return f.Error();
  std::optional<Row> cvm = ResolveCvm(c.params[1]);
  if (!cvm) return CvmNotFound(c.params[1]);
  std::string hash = absl::AsciiStrToLower(absl::StripPrefix(*hash_raw, "0x"));
  std::optional<Row> pending = store_->FindPending(cvm->id, "compose_hash", hash);
  if (!pending || Str(pending->data, "kind") != "compose_file") {
    return Structured(466, "ERR-01-006",
                      absl::StrCat("Compose hash ", hash, " is invalid or expired: call compose_file/provision first"));
  }
  const Kms* k = KmsById(Str(cvm->data, "kms_id"));
  if (k != nullptr && k->type != "PHALA") {
    absl::StatusOr<bool> allowed = rpc_->CallBool(Str(cvm->data, "app_id"), kSelAllowedComposeHashes, hash);
    if (!allowed.ok()) return RpcUnavailable(allowed.status());
    if (!*allowed) {
      return Structured(468, "ERR-01-008",
                        absl::StrCat("Compose hash ", hash, " is not allowed by app contract ",
                                     ChecksumAddress(Str(cvm->data, "app_id")), ": call addComposeHash first"));
    }
  }
  absl::MutexLock lock(&state_mu_);
  std::optional<Row> fresh = store_->GetCvm(cvm->id);
  Row row = fresh ? *fresh : *cvm;
  store_->MarkPendingDone(pending->id);
  std::string corr = Apply(row, pending->data.at("app_compose").as_object(), enc, "compose_file", "");
  json::object o;
  o["status"] = "in_progress";
  o["message"] = "Compose file update in progress";
  o["correlation_id"] = corr;
  return JsonResponse(200, o);
}

// ---------------------------------------------------------------------------------------------
// patchCvm / confirmCvmPatch / commitCvmUpdate (PATCH /cvms/{id}, POST /cvms/{id}/commit-update).

HttpResponse Simulator::PatchCvm(const Ctx& c) {
  json::object body;
  if (c.req.body.empty()) {
    body = {};
  } else if (std::optional<HttpResponse> err = ParseBodyObject(c.req, &body)) {
    return *err;
  }
  Fields f(body);
  std::optional<std::string> dcf = f.Str("docker_compose_file");
  std::optional<std::string> pls = f.Str("pre_launch_script");
  std::optional<json::array> allowed = f.StrList("allowed_envs");
  std::optional<bool> logs = f.Bool("public_logs"), sysinfo = f.Bool("public_sysinfo"),
                      tcbinfo = f.Bool("public_tcbinfo"), force = f.Bool("allow_force_stop");
  std::optional<std::string> enc = f.Str("encrypted_env");
  std::optional<std::string> user_config = f.Str("user_config");
  std::optional<int64_t> vcpu = f.Int("vcpu"), memory = f.Int("memory"), disk = f.Int("disk_size"),
                         shutdown_timeout = f.Int("shutdown_timeout");
  std::optional<std::string> image = f.Str("image");
  (void)f.Obj("gpus");
  if (!f.ok()) return f.Error();
  std::optional<Row> cvm = ResolveCvm(c.params[1]);
  if (!cvm) return CvmNotFound(c.params[1]);
  const std::string* hdr_hash = c.req.Header("x-compose-hash");
  const std::string* hdr_tx = c.req.Header("x-transaction-hash");

  if (body.empty() && hdr_hash && hdr_tx) {  // confirmCvmPatch
    std::string hash = absl::AsciiStrToLower(absl::StripPrefix(*hdr_hash, "0x"));
    std::optional<Row> pending = store_->FindPending(cvm->id, "compose_hash", hash);
    if (!pending) {
      return Structured(466, "ERR-01-006", absl::StrCat("Compose hash ", hash, " is invalid or expired: patch again"));
    }
    if (std::optional<HttpResponse> err = VerifyProof(cvm->data, hash, *hdr_tx)) return *err;
    json::object o;
    o["correlation_id"] = ApplyPending(*cvm, *pending, "patch", *hdr_tx);
    return JsonResponse(200, o);
  }

  json::object compose = cvm->data.at("app_compose").as_object();
  if (dcf) compose["docker_compose_file"] = *dcf;
  if (pls) compose["pre_launch_script"] = *pls;
  if (allowed) compose["allowed_envs"] = *allowed;
  if (logs) compose["public_logs"] = *logs;
  if (sysinfo) compose["public_sysinfo"] = *sysinfo;
  if (tcbinfo) compose["public_tcbinfo"] = *tcbinfo;
  if (ComposePayloadSize(compose) > kMaxComposePayload) {
    return Structured(400, "ERR-01-003",
                      "Combined size of docker_compose_file and pre_launch_script must not exceed 200KB");
  }
  // Settings outside the compose hash are applied as they come.
  Row row = *cvm;
  if (vcpu) row.data["vcpu"] = *vcpu;
  if (memory) row.data["memory"] = *memory;
  if (disk) row.data["disk_size"] = *disk;
  if (image) row.data["base_image"] = *image;
  if (user_config) row.data["user_config"] = *user_config;
  if (shutdown_timeout) row.data["shutdown_timeout"] = *shutdown_timeout;
  if (force) row.data["allow_force_stop"] = *force;

  std::string hash = ServiceComposeHash(compose);
  bool changed = hash != Str(row.data, "compose_hash");
  const Kms* k = KmsById(Str(row.data, "kms_id"));
  bool onchain = k != nullptr && k->type != "PHALA";
  const std::string* prepare = c.req.Header("x-prepare-only");
  bool prepare_only = prepare != nullptr && absl::AsciiStrToLower(*prepare) == "true";
  if (changed && onchain) {
    std::string token = RandomHex(16);
    json::object pending;
    pending["kind"] = "patch";
    pending["app_compose"] = compose;
    pending["encrypted_env"] = enc ? json::value(*enc) : json::value(nullptr);
    std::string app = Str(row.data, "app_id");
    absl::StatusOr<bool> hash_ok = rpc_->CallBool(app, kSelAllowedComposeHashes, hash);
    absl::StatusOr<bool> dev_ok = rpc_->CallBool(app, "bf8b211b", device_id_);  // allowedDeviceIds
    absl::StatusOr<std::string> any = rpc_->EthCall(app, "3440a16a");           // allowAnyDevice()
    bool any_device = any.ok() && any->size() == 64 && (*any)[63] == '1';
    json::object status;
    status["compose_hash_allowed"] = hash_ok.ok() && *hash_ok;
    status["device_id_allowed"] = any_device || (dev_ok.ok() && *dev_ok);
    status["is_allowed"] = status["compose_hash_allowed"].as_bool() && status["device_id_allowed"].as_bool();
    {
      absl::MutexLock lock(&state_mu_);
      store_->UpdateCvm(row.id, row.data);
      store_->InsertPending(row.id, hash, token, pending);
    }
    json::object extra;
    extra["commit_token"] = token;
    extra["commit_url"] = absl::StrCat("https://cloud.", config_.gateway_base_domain, "/commit/", token);
    extra["api_commit_url"] = absl::StrCat(config_.base_path, "/cvms/", c.params[1], "/commit-update");
    extra["onchain_status"] = std::move(status);
    return PreconditionRequired(row.data, hash, &extra);
  }
  (void)prepare_only;  // nothing to prepare when no on-chain registration is needed
  absl::MutexLock lock(&state_mu_);
  json::object o;
  o["correlation_id"] = Apply(row, compose, enc, "patch", "");
  return JsonResponse(200, o);
}

HttpResponse Simulator::CommitUpdate(const Ctx& c) {
  json::object body;
  if (std::optional<HttpResponse> err = ParseBodyObject(c.req, &body)) return *err;
  Fields f(body);
  std::optional<std::string> token = f.Str("token", true);
  std::optional<std::string> hash_raw = f.Str("compose_hash", true);
  std::optional<std::string> tx = f.Str("transaction_hash", true);
  if (!f.ok()) return f.Error();
  std::optional<Row> cvm = ResolveCvm(c.params[1]);
  if (!cvm) return CvmNotFound(c.params[1]);
  std::optional<Row> pending = store_->FindPending(cvm->id, "token", *token);
  std::string hash = absl::AsciiStrToLower(absl::StripPrefix(*hash_raw, "0x"));
  if (!pending || Str(pending->data, "kind") != "patch") {
    return Structured(466, "ERR-01-006", "Commit token is invalid or expired");
  }
  if (ServiceComposeHash(pending->data.at("app_compose").as_object()) != hash) {
    return Structured(466, "ERR-01-006", absl::StrCat("Compose hash ", hash, " does not belong to this commit token"));
  }
  if (std::optional<HttpResponse> err = VerifyProof(cvm->data, hash, *tx)) return *err;
  json::object o;
  o["correlation_id"] = ApplyPending(*cvm, *pending, "commit_update", *tx);
  o["status"] = "in_progress";
  return JsonResponse(200, o);
}

}  // namespace cloudsim
