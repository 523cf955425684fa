#include "cloudapi/wire.h"

#include <cmath>
#include <regex>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chain/hex.h"
#include "cloudapi/js_json.h"
#include "platform/status_macros.h"

namespace cloudapi::wire {
namespace {

namespace json = boost::json;

const char* TypeName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "value";
}

// Reads the fields of one JSON object; the first problem is kept, with its path, and later
// reads return defaults.
class Reader {
 public:
  Reader(const json::value& v, std::string what, std::string path) : what_(std::move(what)), path_(std::move(path)) {
    if (v.is_object()) {
      obj_ = &v.get_object();
    } else {
      Fail(path_.empty() ? "(body)" : path_, "object", v);
    }
  }
  Reader(Reader& parent, const json::value& v, absl::string_view key) : Reader(v, parent.what_, parent.Path(key)) {
    if (!parent.error_.empty()) error_ = parent.error_;
    parent_ = &parent;
  }
  ~Reader() {
    if (parent_ != nullptr && parent_->error_.empty()) parent_->error_ = error_;
  }

  // Null and absent are the same (nullable + optional in the schemas).
  const json::value* Get(absl::string_view key) const {
    if (obj_ == nullptr) return nullptr;
    const json::value* v = obj_->if_contains(json::string_view(key.data(), key.size()));
    return v == nullptr || v->is_null() ? nullptr : v;
  }

  std::string Str(absl::string_view key) {
    std::optional<std::string> v = OptStr(key);
    if (!v) Missing(key, "string");
    return v.value_or("");
  }
  std::optional<std::string> OptStr(absl::string_view key) {
    const json::value* v = Get(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) {
      Wrong(key, "string", *v);
      return std::nullopt;
    }
    return std::string(v->get_string());
  }
  int64_t Int(absl::string_view key) {
    std::optional<int64_t> v = OptInt(key);
    if (!v) Missing(key, "integer");
    return v.value_or(0);
  }
  // A 20-byte value (address, app id): 40 hex digits, 0x optional. "" counts as absent.
  std::optional<chain::Address> OptAddress(absl::string_view key) {
    std::optional<std::string> text = OptStr(key);
    if (!text || text->empty()) return std::nullopt;
    absl::StatusOr<chain::Address> a = ParseAppId(*text);
    if (!a.ok()) Invalid(key, "40 hex digits (an address)");
    return a.ok() ? std::optional<chain::Address>(*a) : std::nullopt;
  }
  // A 32-byte value: 64 hex digits, 0x optional. "" counts as absent.
  std::optional<chain::Hash32> OptHash(absl::string_view key) {
    std::optional<std::string> text = OptStr(key);
    if (!text || text->empty()) return std::nullopt;
    absl::StatusOr<chain::Hash32> h = chain::Hash32::FromHex(*text);
    if (!h.ok()) Invalid(key, "64 hex digits (a hash)");
    return h.ok() ? std::optional<chain::Hash32>(*h) : std::nullopt;
  }
  chain::Hash32 Hash(absl::string_view key) {
    if (Get(key) == nullptr) Missing(key, "string");
    return OptHash(key).value_or(chain::Hash32());
  }
  std::optional<int64_t> OptInt(absl::string_view key) {
    const json::value* v = Get(key);
    if (v == nullptr) return std::nullopt;
    std::optional<int64_t> i = JsonAsInt(*v);
    if (!i) Wrong(key, "integer", *v);
    return i;
  }
  std::optional<bool> OptBool(absl::string_view key) {
    const json::value* v = Get(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_bool()) {
      Wrong(key, "boolean", *v);
      return std::nullopt;
    }
    return v->get_bool();
  }
  bool Bool(absl::string_view key, bool absent) { return OptBool(key).value_or(absent); }
  // string | number, as decimal text.
  std::string NumberText(absl::string_view key) {
    const json::value* v = Get(key);
    if (v == nullptr) return "";
    if (v->is_string()) return std::string(v->get_string());
    if (v->is_int64()) return std::to_string(v->get_int64());
    if (v->is_uint64()) return std::to_string(v->get_uint64());
    if (v->is_double()) return JsNumberToString(v->get_double());
    Wrong(key, "string or number", *v);
    return "";
  }
  const json::value* Obj(absl::string_view key, bool required) {
    const json::value* v = Get(key);
    if (v == nullptr) {
      if (required) Missing(key, "object");
      return nullptr;
    }
    if (!v->is_object()) {
      Wrong(key, "object", *v);
      return nullptr;
    }
    return v;
  }
  const json::array* Arr(absl::string_view key) {
    const json::value* v = Get(key);
    if (v == nullptr) {
      Missing(key, "array");
      return nullptr;
    }
    if (!v->is_array()) {
      Wrong(key, "array", *v);
      return nullptr;
    }
    return &v->get_array();
  }

  std::string Path(absl::string_view key) const {
    return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
  }
  void Fail(const std::string& path, absl::string_view want, const json::value& got) {
    if (error_.empty()) error_ = absl::StrCat(path, ": want ", want, ", got ", TypeName(got));
  }
  void Missing(absl::string_view key, absl::string_view want) {
    if (error_.empty() && obj_ != nullptr) error_ = absl::StrCat(Path(key), ": missing ", want);
  }
  void Wrong(absl::string_view key, absl::string_view want, const json::value& got) { Fail(Path(key), want, got); }
  void Invalid(absl::string_view key, absl::string_view want) {
    if (error_.empty()) error_ = absl::StrCat(Path(key), ": want ", want);
  }
  bool ok() const { return error_.empty(); }
  absl::Status status() const {
    if (error_.empty()) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("unexpected ", what_, " response: ", error_));
  }

 private:
  std::string what_;
  std::string path_;
  const json::object* obj_ = nullptr;
  std::string error_;
  Reader* parent_ = nullptr;
};

KmsInfo ReadKmsInfo(Reader& r) {
  KmsInfo k;
  k.id = r.Str("id");
  k.slug = r.OptStr("slug");
  k.url = r.Str("url");
  k.version = r.Str("version");
  k.chain_id = r.OptInt("chain_id");
  k.kms_contract_address = r.OptAddress("kms_contract_address");
  k.gateway_app_id = r.OptStr("gateway_app_id");
  return k;
}

std::optional<KmsInfo> ReadOptKmsInfo(Reader& parent, absl::string_view key) {
  const json::value* v = parent.Obj(key, false);
  if (v == nullptr) return std::nullopt;
  Reader r(parent, *v, key);
  return ReadKmsInfo(r);
}

json::array ToArray(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

size_t ComposePayloadBytes(const AppCompose& c) {
  return (c.docker_compose_file ? c.docker_compose_file->size() : 0) +
         (c.pre_launch_script ? c.pre_launch_script->size() : 0);
}

absl::Status CheckComposePayload(const AppCompose& c) {
  const size_t bytes = ComposePayloadBytes(c);
  if (bytes > kMaxComposePayloadBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("Combined size of docker_compose_file and pre_launch_script must not exceed 200KB "
                     "(current: ",
                     (bytes + 1023) / 1024, "KB)"));
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Requests

std::string HexOf(const chain::Hash32& hash) { return chain::ToHex(hash.bytes(), /*prefix=*/false); }
std::string HexOf(const chain::Address& app_id) { return chain::ToHex(app_id.bytes(), /*prefix=*/false); }

bool IsValidCvmName(absl::string_view name) {
  if (name.size() < 5 || name.size() > 63) return false;
  static const std::regex* kHostname =
      new std::regex("^[a-zA-Z](?!.*--)([a-zA-Z0-9-]*[a-zA-Z0-9])?$", std::regex::ECMAScript);
  return std::regex_match(name.begin(), name.end(), *kHostname);
}

absl::StatusOr<json::object> ProvisionCvmBody(const ProvisionCvmRequest& r) {
  if (!IsValidCvmName(r.name)) {
    return absl::InvalidArgumentError(
        "name: Name must be 5-63 characters, start with letter, and contain only "
        "letters/numbers/hyphens");
  }
  if (!r.compose_file.docker_compose_file) {
    return absl::InvalidArgumentError("compose_file.docker_compose_file is required");
  }
  RETURN_IF_ERROR(CheckComposePayload(r.compose_file));
  if (r.kms && *r.kms != "PHALA" && *r.kms != "ETHEREUM" && *r.kms != "BASE") {
    return absl::InvalidArgumentError("kms: want PHALA, ETHEREUM or BASE");
  }
  json::object o;
  o["name"] = r.name;
  if (r.node_id) o["teepod_id"] = *r.node_id;
  if (r.region) o["region"] = *r.region;
  if (r.instance_type) {
    o["instance_type"] = *r.instance_type;
  } else if (!r.vcpu && !r.memory) {
    o["instance_type"] = "tdx.small";
  }
  if (r.image) o["image"] = *r.image;
  if (r.vcpu) o["vcpu"] = *r.vcpu;
  if (r.memory) o["memory"] = *r.memory;
  if (r.disk_size) o["disk_size"] = *r.disk_size;
  AppCompose compose = r.compose_file;
  if (!compose.name) compose.name = "";
  if (compose.tproxy_enabled) {
    if (!compose.gateway_enabled) compose.gateway_enabled = compose.tproxy_enabled;
    compose.tproxy_enabled.reset();
  }
  o["compose_file"] = compose.ToJson();
  if (r.listed) o["listed"] = *r.listed;
  if (r.kms_id) o["kms_id"] = *r.kms_id;
  if (r.kms) o["kms"] = *r.kms;
  if (r.kms_contract) o["kms_contract"] = r.kms_contract->Checksummed();
  if (r.env_keys) o["env_keys"] = ToArray(*r.env_keys);
  if (r.nonce) o["nonce"] = *r.nonce;
  if (r.app_id) o["app_id"] = HexOf(*r.app_id);
  return o;
}

json::object CommitCvmProvisionBody(const CommitCvmProvisionRequest& r) {
  json::object o;
  o["app_id"] = r.contract_address ? r.app_id.Checksummed() : HexOf(r.app_id);
  o["compose_hash"] = HexOf(r.compose_hash);
  if (r.encrypted_env) o["encrypted_env"] = *r.encrypted_env;
  if (r.kms_id) o["kms_id"] = *r.kms_id;
  if (r.contract_address) o["contract_address"] = r.contract_address->Checksummed();
  if (r.deployer_address) o["deployer_address"] = r.deployer_address->Checksummed();
  if (r.env_keys) o["env_keys"] = ToArray(*r.env_keys);
  return o;
}

json::object UpdateCvmEnvsBody(const UpdateCvmEnvsRequest& r) {
  json::object o;
  o["encrypted_env"] = r.encrypted_env;
  if (r.env_keys) o["env_keys"] = ToArray(*r.env_keys);
  if (r.compose_hash) o["compose_hash"] = HexOf(*r.compose_hash);
  if (r.transaction_hash) o["transaction_hash"] = r.transaction_hash->Hex();
  return o;
}

absl::StatusOr<json::object> ProvisionComposeFileUpdateBody(const ProvisionComposeFileUpdateRequest& r) {
  if (!r.app_compose.docker_compose_file) {
    return absl::InvalidArgumentError("app_compose.docker_compose_file is required");
  }
  RETURN_IF_ERROR(CheckComposePayload(r.app_compose));
  json::object o = r.app_compose.ToJson();
  o.erase("update_env_vars");
  if (r.update_env_vars) o["update_env_vars"] = *r.update_env_vars;
  return o;
}

json::object CommitComposeFileUpdateBody(const CommitComposeFileUpdateRequest& r) {
  json::object o;
  o["compose_hash"] = HexOf(r.compose_hash);
  if (r.encrypted_env) o["encrypted_env"] = *r.encrypted_env;
  if (r.env_keys) o["env_keys"] = ToArray(*r.env_keys);
  if (r.update_env_vars) o["update_env_vars"] = *r.update_env_vars;
  return o;
}

std::string ListKmsQuery(const ListKmsRequest& r) {
  std::vector<std::string> parts;
  if (r.page) parts.push_back(absl::StrCat("page=", *r.page));
  if (r.page_size) parts.push_back(absl::StrCat("page_size=", *r.page_size));
  if (r.is_onchain) parts.push_back(absl::StrCat("is_onchain=", *r.is_onchain ? "true" : "false"));
  return parts.empty() ? "" : absl::StrCat("?", absl::StrJoin(parts, "&"));
}

std::string ListCvmsQuery(const ListCvmsRequest& r) {
  std::vector<std::string> parts;
  if (r.page) parts.push_back(absl::StrCat("page=", *r.page));
  if (r.page_size) parts.push_back(absl::StrCat("page_size=", *r.page_size));
  if (r.node_id) parts.push_back(absl::StrCat("node_id=", *r.node_id));
  return parts.empty() ? "" : absl::StrCat("?", absl::StrJoin(parts, "&"));
}

// ---------------------------------------------------------------------------------------------
// Responses

absl::StatusOr<CurrentUser> ParseCurrentUser(const json::value& v) {
  Reader r(v, "current user", "");
  CurrentUser u;
  if (const json::value* user = r.Obj("user", true)) {
    Reader ur(r, *user, "user");
    u.username = ur.Str("username");
    u.email = ur.OptStr("email").value_or("");
    u.role = ur.OptStr("role").value_or("");
    u.email_verified = ur.Bool("email_verified", false);
  }
  if (const json::value* ws = r.Obj("workspace", true)) {
    Reader wr(r, *ws, "workspace");
    u.workspace_id = wr.Str("id");
    u.workspace_name = wr.OptStr("name").value_or("");
    u.workspace_slug = wr.OptStr("slug");
    u.workspace_tier = wr.OptStr("tier").value_or("");
    u.workspace_role = wr.OptStr("role").value_or("");
  }
  if (const json::value* credits = r.Obj("credits", false)) {
    Reader cr(r, *credits, "credits");
    u.credits_balance = cr.NumberText("balance");
    u.credits_is_post_paid = cr.Bool("is_post_paid", false);
  }
  if (!r.ok()) return r.status();
  return u;
}

absl::StatusOr<KmsInfo> ParseKmsInfo(const json::value& v) {
  Reader r(v, "kms info", "");
  KmsInfo k = ReadKmsInfo(r);
  if (!r.ok()) return r.status();
  return k;
}

absl::StatusOr<KmsList> ParseKmsList(const json::value& v) {
  Reader r(v, "kms list", "");
  KmsList out;
  if (const json::array* items = r.Arr("items")) {
    for (size_t i = 0; i < items->size() && r.ok(); ++i) {
      const std::string key = absl::StrCat("items[", i, "]");
      Reader ir(r, (*items)[i], key);
      out.items.push_back(ReadKmsInfo(ir));
    }
  }
  out.total = r.Int("total");
  out.page = r.Int("page");
  out.page_size = r.Int("page_size");
  out.pages = r.Int("pages");
  if (!r.ok()) return r.status();
  return out;
}

absl::StatusOr<ProvisionCvmResponse> ParseProvisionCvmResponse(const json::value& v) {
  Reader r(v, "provision cvm", "");
  ProvisionCvmResponse p;
  p.app_id = r.OptAddress("app_id");
  p.app_env_encrypt_pubkey = r.OptStr("app_env_encrypt_pubkey");
  p.compose_hash = r.Hash("compose_hash");
  p.kms_info = ReadOptKmsInfo(r, "kms_info");
  p.fmspc = r.OptStr("fmspc");
  p.device_id = r.OptHash("device_id");
  p.os_image_hash = r.OptStr("os_image_hash");
  p.instance_type = r.OptStr("instance_type");
  p.node_id = r.OptInt("teepod_id");
  if (!p.node_id) p.node_id = r.OptInt("node_id");
  p.kms_id = r.OptStr("kms_id");
  if (!r.ok()) return r.status();
  return p;
}

absl::StatusOr<CommitCvmProvisionResponse> ParseCommitCvmProvisionResponse(const json::value& v) {
  Reader r(v, "commit cvm provision", "");
  CommitCvmProvisionResponse c;
  c.id = r.Int("id");
  c.name = r.Str("name");
  c.status = r.Str("status");
  c.node_id = r.OptInt("teepod_id");
  if (const json::value* teepod = r.Obj("teepod", false)) {
    Reader tr(r, *teepod, "teepod");
    c.node_name = tr.OptStr("name");
  }
  c.app_id = r.OptAddress("app_id");
  c.vm_uuid = r.OptStr("vm_uuid");
  c.instance_id = r.OptStr("instance_id");
  c.app_url = r.OptStr("app_url");
  c.base_image = r.OptStr("base_image");
  c.vcpu = r.OptInt("vcpu");
  c.memory = r.OptInt("memory");
  c.disk_size = r.OptInt("disk_size");
  c.encrypted_env_pubkey = r.OptStr("encrypted_env_pubkey");
  c.app_auth_contract_address = r.OptAddress("app_auth_contract_address");
  c.deployer_address = r.OptAddress("deployer_address");
  c.created_at = r.OptStr("created_at");
  if (!r.ok()) return r.status();
  return c;
}

// CvmInfoV20260121Schema (an item of the paged list) and its detail extension.
CvmInfo ReadCvmInfo(Reader& r) {
  CvmInfo c;
  c.id = r.Str("id");
  c.name = r.Str("name");
  c.status = r.Str("status");
  c.app_id = r.OptAddress("app_id");
  c.vm_uuid = r.OptStr("vm_uuid");
  c.instance_id = r.OptStr("instance_id");
  c.kms_type = r.OptStr("kms_type");
  if (const json::value* ki = r.Obj("kms_info", false)) {
    Reader kr(r, *ki, "kms_info");
    CvmKmsInfo k;
    k.chain_id = kr.OptInt("chain_id");
    k.dstack_kms_address = kr.OptAddress("dstack_kms_address");
    k.dstack_app_address = kr.OptAddress("dstack_app_address");
    k.deployer_address = kr.OptAddress("deployer_address");
    k.rpc_endpoint = kr.OptStr("rpc_endpoint");
    k.encrypted_env_pubkey = kr.OptStr("encrypted_env_pubkey");
    c.kms_info = std::move(k);
  }
  c.compose_hash = r.OptHash("compose_hash");
  if (const json::value* res = r.Obj("resource", false)) {
    Reader rr(r, *res, "resource");
    c.instance_type = rr.OptStr("instance_type");
  }
  if (const json::value* node = r.Obj("node_info", false)) {
    Reader nr(r, *node, "node_info");
    c.node_id = nr.OptInt("id");
    c.node_name = nr.OptStr("name");
    c.device_id = nr.OptHash("device_id");
  }
  if (const json::value* os = r.Obj("os", false)) {
    Reader orr(r, *os, "os");
    c.os_image_hash = orr.OptStr("os_image_hash");
  }
  if (const json::value* gw = r.Obj("gateway", false)) {
    Reader gr(r, *gw, "gateway");
    c.gateway_base_domain = gr.OptStr("base_domain");
  }
  if (const json::value* pr = r.Obj("progress", false)) {
    Reader prr(r, *pr, "progress");
    c.progress_target = prr.OptStr("target");
    c.progress_correlation_id = prr.OptStr("correlation_id");
  }
  c.public_logs = r.OptBool("public_logs");
  c.public_sysinfo = r.OptBool("public_sysinfo");
  c.gateway_enabled = r.OptBool("gateway_enabled");
  c.listed = r.Bool("listed", false);
  return c;
}

absl::StatusOr<CvmInfo> ParseCvmInfo(const json::value& v) {
  Reader r(v, "cvm info", "");
  CvmInfo c = ReadCvmInfo(r);
  if (!r.ok()) return r.status();
  return c;
}

absl::StatusOr<CvmList> ParseCvmList(const json::value& v) {
  Reader r(v, "cvm list", "");
  CvmList out;
  if (const json::array* items = r.Arr("items")) {
    for (size_t i = 0; i < items->size() && r.ok(); ++i) {
      Reader ir(r, (*items)[i], absl::StrCat("items[", i, "]"));
      out.items.push_back(ReadCvmInfo(ir));
    }
  }
  out.total = r.Int("total");
  out.page = r.Int("page");
  out.page_size = r.Int("page_size");
  out.pages = r.Int("pages");
  if (!r.ok()) return r.status();
  return out;
}

absl::StatusOr<AvailableNodes> ParseAvailableNodes(const json::value& v) {
  Reader r(v, "available nodes", "");
  AvailableNodes out;
  out.tier = r.Str("tier");
  if (const json::array* nodes = r.Arr("nodes")) {
    for (size_t i = 0; i < nodes->size() && r.ok(); ++i) {
      Reader nr(r, (*nodes)[i], absl::StrCat("nodes[", i, "]"));
      NodeInfo n;
      n.id = nr.Int("teepod_id");
      n.name = nr.Str("name");
      n.listed = nr.Bool("listed", false);
      n.region = nr.OptStr("region_identifier");
      n.device_id = nr.OptHash("device_id");
      n.fmspc = nr.OptStr("fmspc");
      n.support_onchain_kms = nr.Bool("support_onchain_kms", false);
      out.nodes.push_back(std::move(n));
    }
  }
  if (!r.ok()) return r.status();
  return out;
}

absl::StatusOr<ComposeFileUpdateProvision> ParseComposeFileUpdateProvision(const json::value& v) {
  Reader r(v, "compose file provision", "");
  ComposeFileUpdateProvision p;
  p.app_id = r.OptAddress("app_id");
  p.device_id = r.OptHash("device_id");
  p.compose_hash = r.Hash("compose_hash");
  p.kms_info = ReadOptKmsInfo(r, "kms_info");
  p.compose_hash_registered = r.Bool("compose_hash_registered", false);
  if (!r.ok()) return r.status();
  return p;
}

absl::StatusOr<UpdateAccepted> ParseUpdateAccepted(const json::value& v, bool envs) {
  Reader r(v, envs ? "update cvm envs" : "update docker compose", "");
  UpdateAccepted a;
  a.status = r.Str("status");
  a.message = r.OptStr("message").value_or("");
  a.correlation_id = r.Str("correlation_id");
  a.allowed_envs_changed = r.OptBool("allowed_envs_changed");
  if (envs && !a.allowed_envs_changed) r.Missing("allowed_envs_changed", "boolean");
  if (!r.ok()) return r.status();
  return a;
}

absl::StatusOr<RawPubkey> ParseAppEnvEncryptPubkey(const json::value& v) {
  Reader r(v, "app env encrypt pubkey", "");
  RawPubkey p;
  p.public_key = r.Str("public_key");
  p.signature = r.OptStr("signature").value_or("");
  if (!r.ok()) return r.status();
  return p;
}

namespace {

// compose_hash and app_id must be non-empty strings (the SDK's truthiness check); otherwise
// nullopt. kms_info must be a full KmsInfo.
absl::StatusOr<std::optional<PreconditionRequired>> BuildPrecondition(std::string message, std::string error_code,
                                                                      const json::value* compose_hash,
                                                                      const json::value* app_id,
                                                                      const json::value* device_id,
                                                                      const json::value* kms_info) {
  auto nonempty = [](const json::value* v) { return v != nullptr && v->is_string() && !v->get_string().empty(); };
  if (!nonempty(compose_hash) || !nonempty(app_id)) return std::nullopt;
  PreconditionRequired p;
  p.message = message.empty() ? "Compose hash verification required" : std::move(message);
  p.error_code = std::move(error_code);
  absl::StatusOr<chain::Hash32> hash = chain::Hash32::FromHex(std::string(compose_hash->get_string()));
  absl::StatusOr<chain::Address> app = ParseAppId(std::string(app_id->get_string()));
  if (!hash.ok() || !app.ok()) {
    return absl::InternalError(
        absl::StrCat("unexpected precondition_required response: ",
                     hash.ok() ? "app_id: want 40 hex digits" : "compose_hash: want 64 hex digits"));
  }
  p.compose_hash = *hash;
  p.app_id = *app;
  if (device_id != nullptr && device_id->is_string() && !device_id->get_string().empty()) {
    absl::StatusOr<chain::Hash32> device = chain::Hash32::FromHex(std::string(device_id->get_string()));
    if (!device.ok())
      return absl::InternalError("unexpected precondition_required response: device_id: want 64 hex digits");
    p.device_id = *device;
  }
  static const json::value kNull;
  Reader kr(kms_info != nullptr ? *kms_info : kNull, "precondition_required", "kms_info");
  p.kms_info = ReadKmsInfo(kr);
  if (!kr.ok()) return kr.status();
  return p;
}

}  // namespace

absl::StatusOr<std::optional<PreconditionRequired>> PreconditionFromError(const ApiError& e) {
  if (!e.details.is_array()) return std::nullopt;
  const json::value *compose_hash = nullptr, *app_id = nullptr, *device_id = nullptr, *kms_info = nullptr;
  for (const json::value& d : e.details.get_array()) {
    if (!d.is_object()) continue;
    const json::value* field = d.get_object().if_contains("field");
    const json::value* value = d.get_object().if_contains("value");
    if (field == nullptr || !field->is_string() || value == nullptr) continue;
    const json::string& f = field->get_string();
    if (f == "compose_hash") compose_hash = value;
    if (f == "app_id") app_id = value;
    if (f == "device_id") device_id = value;
    if (f == "kms_info") kms_info = value;
  }
  return BuildPrecondition(e.message, e.error_code, compose_hash, app_id, device_id, kms_info);
}

absl::StatusOr<std::optional<PreconditionRequired>> PreconditionFromBody(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  const json::object& o = v.get_object();
  const json::value* status = o.if_contains("status");
  if (status == nullptr || !status->is_string() || status->get_string() != "precondition_required") {
    return std::nullopt;
  }
  std::string message;
  if (const json::value* m = o.if_contains("message"); m && m->is_string()) {
    message = std::string(m->get_string());
  }
  absl::StatusOr<std::optional<PreconditionRequired>> p =
      BuildPrecondition(std::move(message), "", o.if_contains("compose_hash"), o.if_contains("app_id"),
                        o.if_contains("device_id"), o.if_contains("kms_info"));
  if (p.ok() && !p->has_value()) {
    return absl::InternalError("unexpected precondition_required response: compose_hash and app_id are required");
  }
  return p;
}

}  // namespace cloudapi::wire
