// Simulator: construction (KMS entries, signing keys, chain client), routing and auth, the
// request log, the KMS routes and the test-only /_sim admin API.
#include "test/cloudsim/simulator.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "chain/hex.h"
#include "test/cloudsim/api_util.h"
#include "test/cloudsim/eth_forms.h"

namespace cloudsim {

namespace json = boost::json;
using api::Detail;
using api::ErrItem;
using api::IsDigits;
using api::IsHex;
using api::JsonResponse;
using api::kLegacyVersion;
using api::NullIfEmpty;
using api::ParseBool;
using api::QueryError;
using api::QueryParams;
using api::Segments;
using api::Str;
using api::Structured;

// ---------------------------------------------------------------------------------------------
// Construction: KMS entries (with persisted signing keys), the chain client, node identity.

absl::StatusOr<std::unique_ptr<Simulator>> Simulator::Create(SimConfig config, std::unique_ptr<Store> store,
                                                             uint64_t fault_seed) {
  std::unique_ptr<Simulator> sim(new Simulator(std::move(config), std::move(store), fault_seed));
  absl::Status s = sim->Init();
  if (!s.ok()) return s;
  return sim;
}

absl::Status Simulator::Init() {
  if (!absl::StartsWith(config_.base_path, "/") || absl::EndsWith(config_.base_path, "/")) {
    return absl::InvalidArgumentError("base_path must start with '/' and not end with it");
  }
  device_id_ = config_.device_id.empty() ? Sha256Hex("cloudsim-device-1") : absl::AsciiStrToLower(config_.device_id);
  if (!NormalizeBytes32(device_id_)) return absl::InvalidArgumentError("device_id must be 32 bytes of hex");
  device_id_ = *NormalizeBytes32(device_id_);
  nodes_.push_back(Node{config_.node_id, config_.node_name, device_id_});
  for (int64_t i = 1; i <= config_.extra_nodes; ++i) {
    int64_t id = config_.node_id + i;
    nodes_.push_back(Node{id, absl::StrCat("sim-node-", id), Sha256Hex(absl::StrCat("cloudsim-device-", id))});
  }
  {
    BootRules rules = config_.boot;
    if (std::optional<std::string> saved = store_->GetMeta("boot_rules")) {
      boost::system::error_code ec;
      json::value v = json::parse(*saved, ec);
      if (!ec) {
        absl::StatusOr<BootRules> parsed = ParseBootRules(v, rules);
        if (parsed.ok()) rules = *parsed;
      }
    }
    absl::MutexLock lock(&boot_mu_);
    boot_rules_ = rules;
  }
  os_image_hash_ = config_.os_image_hash.empty() ? Sha256Hex("cloudsim-os-" + config_.base_image)
                                                 : absl::AsciiStrToLower(config_.os_image_hash);
  if (config_.phala_app_deployer.empty()) {
    absl::string_view seed = "cloudsim-phala-kms";
    phala_deployer_ =
        Keccak256Hex(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(seed.data()), seed.size())).substr(24);
  } else {
    std::optional<std::string> a = NormalizeAddress(config_.phala_app_deployer);
    if (!a) return absl::InvalidArgumentError("phala_app_deployer must be an address");
    phala_deployer_ = *a;
  }
  if (!config_.rpc_url.empty()) {
    absl::StatusOr<EthRpc> rpc = EthRpc::Create(config_.rpc_url, config_.rpc_timeout);
    if (!rpc.ok()) return rpc.status();
    rpc_.emplace(*std::move(rpc));
  }

  std::optional<KmsSigner> flag_key;
  if (!config_.kms_signing_key_hex.empty()) {
    absl::StatusOr<KmsSigner> s = KmsSigner::FromSecretHex(config_.kms_signing_key_hex);
    if (!s.ok()) return s.status();
    flag_key = *s;
  }
  auto add = [&](const std::string& type, const std::string& contract) -> absl::Status {
    std::string slug = absl::AsciiStrToLower(type);
    std::string id = absl::StrCat("kms-", slug, "-sim");
    Kms k;
    k.type = type;
    k.contract = contract;
    k.info["id"] = id;
    k.info["slug"] = slug;
    k.info["url"] = absl::StrCat("https://kms.", config_.gateway_base_domain, "/", slug);
    k.info["version"] = config_.kms_version;
    if (type == "PHALA") {
      k.info["chain_id"] = nullptr;
      k.info["kms_contract_address"] = nullptr;
      k.info["gateway_app_id"] = nullptr;
    } else {
      k.info["chain_id"] = config_.chain_id;
      k.info["kms_contract_address"] = ChecksumAddress(contract);
      k.info["gateway_app_id"] = NullIfEmpty(config_.gateway_app_id);
    }
    std::string meta_key = absl::StrCat("kms_signing_key:", id);
    if (flag_key) {
      k.signer = flag_key;
    } else if (std::optional<std::string> stored = store_->GetMeta(meta_key)) {
      absl::StatusOr<KmsSigner> s = KmsSigner::FromSecretHex(*stored);
      if (!s.ok()) return s.status();
      k.signer = *s;
    } else {
      k.signer = KmsSigner::Generate();
      absl::Status st = store_->SetMeta(meta_key, k.signer->SecretHex());
      if (!st.ok()) return st;
    }
    json::object row = k.info;
    row["type"] = type;
    row["signer_public_key"] = k.signer->CompressedPublicKeyHex();
    row["signer_address"] = k.signer->Address();
    absl::Status st = store_->UpsertKms(id, row);
    if (!st.ok()) return st;
    kms_.push_back(std::move(k));
    return absl::OkStatus();
  };
  if (config_.phala_kms) {
    absl::Status s = add("PHALA", "");
    if (!s.ok()) return s;
  }
  if (!config_.kms_contract.empty()) {
    std::optional<std::string> contract = NormalizeAddress(config_.kms_contract);
    if (!contract) return absl::InvalidArgumentError("kms_contract must be a 20-byte hex address");
    if (!rpc_) return absl::InvalidArgumentError("on-chain KMS entries need an rpc_url");
    for (const std::string& t : config_.onchain_kms_types) {
      std::string type = absl::AsciiStrToUpper(t);
      if (type != "BASE" && type != "ETHEREUM") {
        return absl::InvalidArgumentError(absl::StrCat("unknown on-chain KMS type ", t));
      }
      absl::Status s = add(type, *contract);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

json::array Simulator::KmsSummary() {
  json::array out;
  for (const Kms& k : kms_) out.push_back(k.info);
  return out;
}

const Simulator::Node* Simulator::FindNode(int64_t id) const {
  for (const Node& n : nodes_) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

BootRules Simulator::boot_rules() {
  absl::MutexLock lock(&boot_mu_);
  return boot_rules_;
}

const Simulator::Kms* Simulator::FindKms(absl::string_view ref) const {
  for (const Kms& k : kms_) {
    if (Str(k.info, "id") == ref || Str(k.info, "slug") == ref) return &k;
  }
  std::string upper = absl::AsciiStrToUpper(ref);
  for (const Kms& k : kms_) {
    if (k.type == upper) return &k;
  }
  return nullptr;
}

const Simulator::Kms* Simulator::KmsById(absl::string_view id) const {
  for (const Kms& k : kms_) {
    if (Str(k.info, "id") == id) return &k;
  }
  return nullptr;
}

std::pair<std::string, std::string> Simulator::AppKey(const std::string& app_id) {
  if (std::optional<std::pair<std::string, std::string>> k = store_->GetAppKey(app_id)) return *k;
  auto [priv, pub] = NewAppKeyPair();
  return store_->PutAppKeyIfAbsent(app_id, priv, pub);
}

// keccak256(rlp([deployer, nonce]))[12:], the CREATE address rule.
std::string Simulator::PhalaAppId(int64_t nonce) const {
  Bytes item = {0x94};
  Bytes addr = *chain::FromHex(phala_deployer_);
  item.insert(item.end(), addr.begin(), addr.end());
  if (nonce == 0) {
    item.push_back(0x80);
  } else if (nonce < 0x80) {
    item.push_back(static_cast<uint8_t>(nonce));
  } else {
    Bytes be;
    for (uint64_t n = static_cast<uint64_t>(nonce); n > 0; n >>= 8)
      be.insert(be.begin(), static_cast<uint8_t>(n & 0xff));
    item.push_back(static_cast<uint8_t>(0x80 + be.size()));
    item.insert(item.end(), be.begin(), be.end());
  }
  Bytes list = {static_cast<uint8_t>(0xc0 + item.size())};
  list.insert(list.end(), item.begin(), item.end());
  return Keccak256Hex(list).substr(24);
}

std::optional<Row> Simulator::ResolveCvm(absl::string_view ref) {
  std::string lower = absl::AsciiStrToLower(ref);
  if (absl::StartsWith(lower, "app_") && lower.size() == 44 && IsHex(lower.substr(4))) {
    return store_->FindCvm("app_id", lower.substr(4));
  }
  if (absl::StartsWith(lower, "instance_") && lower.size() == 49 && IsHex(lower.substr(9))) {
    return store_->FindCvm("instance_id", lower.substr(9));
  }
  std::string nodash = absl::StrReplaceAll(lower, {{"-", ""}});
  if (nodash.size() == 32 && IsHex(nodash) && (lower.size() == 32 || lower.size() == 36)) {
    std::string dashed = absl::StrCat(nodash.substr(0, 8), "-", nodash.substr(8, 4), "-", nodash.substr(12, 4), "-",
                                      nodash.substr(16, 4), "-", nodash.substr(20));
    if (std::optional<Row> r = store_->FindCvm("vm_uuid", dashed)) return r;
  }
  if (lower.size() == 40 && IsHex(lower)) {
    if (std::optional<Row> r = store_->FindCvm("app_id", lower)) return r;
  }
  if (IsDigits(ref) && ref.size() < 18) {
    int64_t id = 0;
    if (absl::SimpleAtoi(ref, &id)) {
      if (std::optional<Row> r = store_->GetCvm(id)) return r;
    }
  }
  return store_->FindCvm("name", ref);
}

// ---------------------------------------------------------------------------------------------
// Routing, auth, faults, the request log.

struct Simulator::Route {
  const char* method;
  std::vector<absl::string_view> pattern;  // "*" matches one segment
  HttpResponse (Simulator::*fn)(const Ctx&);
};

namespace {

bool Match(const std::vector<absl::string_view>& pattern, const std::vector<std::string>& segs,
           std::vector<std::string>* params) {
  if (pattern.size() != segs.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != "*" && pattern[i] != segs[i]) return false;
  }
  *params = segs;  // every segment, so a handler reads its ids by position
  return true;
}

}  // namespace

HttpResponse Simulator::Handle(const HttpRequest& req) {
  try {
    if (req.path == "/_sim" || absl::StartsWith(req.path, "/_sim/")) {
      if (!req.remote_is_loopback) return Detail(403, "admin endpoints are loopback-only");
      return HandleAdmin(req, req.path.substr(5));
    }
    if (req.path == config_.base_path || absl::StartsWith(req.path, config_.base_path + "/")) {
      return HandleApi(req, req.path.substr(config_.base_path.size()));
    }
    return Detail(404, "Not Found");
  } catch (const std::exception& e) {
    // Boost exceptions (JSON access, bad_alloc, ...) stop at this edge.
    return Detail(500, absl::StrCat("Internal Server Error: ", e.what()));
  }
}

HttpResponse Simulator::HandleApi(const HttpRequest& req, const std::string& api_path) {
  static const std::vector<Route>* routes = new std::vector<Route>{
      {"GET", {"auth", "me"}, &Simulator::AuthMe},
      {"GET", {"kms"}, &Simulator::ListKms},
      {"GET", {"kms", "phala", "next_app_id"}, &Simulator::NextAppIds},
      {"GET", {"kms", "*"}, &Simulator::GetKms},
      {"GET", {"kms", "*", "pubkey", "*"}, &Simulator::GetPubkey},
      {"POST", {"cvms", "provision"}, &Simulator::Provision},
      {"POST", {"cvms"}, &Simulator::Commit},
      {"GET", {"cvms", "paginated"}, &Simulator::ListCvms},
      {"GET", {"cvms", "*"}, &Simulator::GetCvm},
      {"GET", {"teepods", "available"}, &Simulator::AvailableNodes},
      {"PATCH", {"cvms", "*"}, &Simulator::PatchCvm},
      {"GET", {"cvms", "*", "compose_file"}, &Simulator::GetComposeFile},
      {"PATCH", {"cvms", "*", "compose_file"}, &Simulator::CommitComposeFile},
      {"POST", {"cvms", "*", "compose_file", "provision"}, &Simulator::ProvisionComposeFile},
      {"PATCH", {"cvms", "*", "envs"}, &Simulator::UpdateEnvs},
      {"PATCH", {"cvms", "*", "docker-compose"}, &Simulator::UpdateDockerCompose},
      {"GET", {"cvms", "*", "docker-compose.yml"}, &Simulator::GetDockerComposeYml},
      {"PATCH", {"cvms", "*", "pre-launch-script"}, &Simulator::UpdatePreLaunchScript},
      {"GET", {"cvms", "*", "pre-launch-script"}, &Simulator::GetPreLaunchScript},
      {"POST", {"cvms", "*", "commit-update"}, &Simulator::CommitUpdate},
  };
  std::vector<std::string> segs = Segments(api_path);
  const Route* found = nullptr;
  bool path_known = false;
  std::vector<std::string> params;
  for (const Route& r : *routes) {
    std::vector<std::string> p;
    if (!Match(r.pattern, segs, &p)) continue;
    path_known = true;
    if (req.method == r.method) {
      found = &r;
      params = std::move(p);
      break;
    }
  }
  if (found == nullptr) {
    return path_known ? Detail(405, "Method Not Allowed") : Detail(404, "Not Found");
  }
  const std::string* key = req.Header("x-api-key");
  if (key == nullptr || std::find(config_.api_keys.begin(), config_.api_keys.end(), *key) == config_.api_keys.end()) {
    return Detail(401, "Invalid API key");
  }
  const std::string* version = req.Header("x-phala-version");
  Ctx ctx{req, std::move(params), version != nullptr && *version == kLegacyVersion};
  return (this->*(found->fn))(ctx);
}

FaultDecision Simulator::DecideFault(const HttpRequest& req) {
  if (!absl::StartsWith(req.path, config_.base_path + "/")) return {};
  return faults_.Decide(req.method, req.path, req.path.substr(config_.base_path.size()));
}

void Simulator::Record(const HttpRequest& req, const HttpResponse* res, const std::string& fault, int64_t duration_ms) {
  if (absl::StartsWith(req.path, "/_sim")) return;
  RequestLogEntry e;
  e.method = req.method;
  e.path = req.path;
  e.query = req.query;
  e.status = res ? res->status : 0;
  e.fault = fault;
  e.duration_ms = duration_ms;
  if (!absl::StartsWith(req.path, config_.base_path + "/")) {
    e.auth = "none";
  } else if (const std::string* key = req.Header("x-api-key"); key == nullptr) {
    e.auth = "missing";
  } else {
    e.auth = std::find(config_.api_keys.begin(), config_.api_keys.end(), *key) != config_.api_keys.end() ? "valid"
                                                                                                         : "invalid";
  }
  // A fixed list of headers; X-API-Key is never among them.
  for (const char* h : {"content-type", "accept", "user-agent", "x-phala-version", "x-compose-hash",
                        "x-transaction-hash", "x-prepare-only"}) {
    if (const std::string* v = req.Header(h)) e.headers[h] = *v;
  }
  if (req.body.empty()) {
    e.body = nullptr;
  } else {
    boost::system::error_code ec;
    json::value v = json::parse(req.body, ec);
    if (!ec) {
      e.body = std::move(v);
    } else {
      constexpr size_t kMax = 64 * 1024;
      e.body = req.body.size() > kMax ? req.body.substr(0, kMax) : req.body;
    }
  }
  store_->LogRequest(e);
}

// ---------------------------------------------------------------------------------------------
// Auth and KMS.

HttpResponse Simulator::AuthMe(const Ctx& c) {
  if (c.legacy) {
    return JsonResponse(200, json::parse(R"({"username":"cloudsim","email":"cloudsim@example.invalid",
      "credits":100,"granted_credits":0,"avatar":"","team_name":"cloudsim","team_tier":"free"})"));
  }
  return JsonResponse(200, json::parse(R"({
    "user":{"username":"cloudsim","email":"cloudsim@example.invalid","role":"user","avatar":"",
            "email_verified":true,"totp_enabled":false,"has_backup_codes":false,"flag_has_password":true},
    "workspace":{"id":"ws_cloudsim","name":"cloudsim","slug":"cloudsim","tier":"free","role":"owner","avatar":null},
    "credits":{"balance":"100.00","granted_balance":"0.00","is_post_paid":false,"outstanding_amount":null}})"));
}

HttpResponse Simulator::ListKms(const Ctx& c) {
  std::map<std::string, std::string> q = QueryParams(c.req.query);
  int64_t page = 1, page_size = 20;
  std::optional<bool> onchain;
  if (std::optional<HttpResponse> bad = api::PageParams(q, &page, &page_size)) return *bad;
  if (auto it = q.find("is_onchain"); it != q.end()) {
    onchain = ParseBool(it->second);
    if (!onchain)
      return *QueryError("is_onchain", "bool_parsing", "Input should be a valid boolean, unable to interpret input",
                         it->second);
  }
  json::array all;
  for (const Kms& k : kms_) {
    bool is_onchain = k.type != "PHALA";
    if (onchain && *onchain != is_onchain) continue;
    all.push_back(k.info);
  }
  int64_t total = static_cast<int64_t>(all.size());
  json::array items;
  for (int64_t i = (page - 1) * page_size; i < std::min(total, page * page_size); ++i) items.push_back(all[i]);
  json::object o;  // exactly the five keys of the SDK's strict schema
  o["items"] = std::move(items);
  o["total"] = total;
  o["page"] = page;
  o["page_size"] = page_size;
  o["pages"] = (total + page_size - 1) / page_size;
  return JsonResponse(200, o);
}

HttpResponse Simulator::GetKms(const Ctx& c) {
  const Kms* k = FindKms(c.params[1]);
  if (k == nullptr) return Structured(404, "ERR-02-011", absl::StrCat("KMS '", c.params[1], "' not found"));
  return JsonResponse(200, k->info);
}

HttpResponse Simulator::NextAppIds(const Ctx& c) {
  std::map<std::string, std::string> q = QueryParams(c.req.query);
  int64_t counts = 1;
  if (auto it = q.find("counts"); it != q.end()) {
    if (!absl::SimpleAtoi(it->second, &counts)) {
      return *QueryError("counts", "int_parsing",
                         "Input should be a valid integer, unable to parse string as an integer", it->second);
    }
    if (counts < 1 || counts > 20)
      return *QueryError("counts", "less_than_equal", "Input should be between 1 and 20", it->second);
  }
  int64_t next = 0;
  if (std::optional<std::string> n = store_->GetMeta("phala_nonce")) (void)absl::SimpleAtoi(*n, &next);
  json::array ids;
  for (int64_t i = 0; i < counts; ++i) {
    json::object o;
    o["app_id"] = PhalaAppId(next + i);
    o["nonce"] = next + i;
    ids.push_back(std::move(o));
  }
  json::object o;
  o["app_ids"] = std::move(ids);
  return JsonResponse(200, o);
}

HttpResponse Simulator::GetPubkey(const Ctx& c) {
  const Kms* k = FindKms(c.params[1]);
  if (k == nullptr) return Structured(404, "ERR-02-011", absl::StrCat("KMS '", c.params[1], "' not found"));
  std::optional<std::string> app_id = NormalizeAddress(c.params[3]);
  if (!app_id) {
    json::object o;
    o["detail"] = json::array{ErrItem({json::value("path"), json::value("app_id")}, "value_error",
                                      "Value error, app_id must be 40 hex characters, optionally 0x-prefixed",
                                      json::value(c.params[3]))};
    return JsonResponse(422, o);
  }
  auto [priv, pub] = AppKey(*app_id);
  absl::StatusOr<std::string> sig = k->signer->SignEnvPubkey(*app_id, pub);
  if (!sig.ok()) return Detail(500, absl::StrCat("signing failed: ", sig.status().message()));
  json::object o;  // exactly the two keys of the SDK's strict schema
  o["public_key"] = pub;
  o["signature"] = *sig;
  return JsonResponse(200, o);
}

// ---------------------------------------------------------------------------------------------
// Test-only admin API (no API key; loopback peers only).

HttpResponse Simulator::HandleAdmin(const HttpRequest& req, const std::string& path) {
  std::vector<std::string> segs = Segments(path);
  auto is = [&](const char* method, std::initializer_list<absl::string_view> pattern) {
    if (req.method != method || segs.size() != pattern.size()) return false;
    size_t i = 0;
    for (absl::string_view p : pattern) {
      if (p != "*" && p != segs[i]) return false;
      ++i;
    }
    return true;
  };
  if (is("GET", {"health"})) return JsonResponse(200, json::parse(R"({"ok":true})"));
  if (is("GET", {"requests"})) {
    std::map<std::string, std::string> q = QueryParams(req.query);
    int64_t since = 0, limit = 1000;
    if (q.count("since")) (void)absl::SimpleAtoi(q["since"], &since);
    if (q.count("limit")) (void)absl::SimpleAtoi(q["limit"], &limit);
    json::object o;
    o["requests"] = store_->Requests(since, q.count("path_prefix") ? q["path_prefix"] : "", limit);
    return JsonResponse(200, o);
  }
  if (is("DELETE", {"requests"})) {
    store_->ClearRequests();
    return JsonResponse(200, json::parse(R"({"ok":true})"));
  }
  if (is("GET", {"faults"})) {
    json::object o;
    o["faults"] = faults_.List();
    return JsonResponse(200, o);
  }
  if (is("POST", {"faults"})) {
    boost::system::error_code ec;
    json::value v = json::parse(req.body, ec);
    if (ec) return Detail(400, "fault body must be JSON (a rule object or an array of rules)");
    json::array ids;
    const json::array* list = v.is_array() ? &v.get_array() : nullptr;
    json::array single;
    if (list == nullptr) {
      single.push_back(v);
      list = &single;
    }
    for (const json::value& rule : *list) {
      absl::StatusOr<int64_t> id = faults_.Add(rule);
      if (!id.ok()) return Detail(400, id.status().message());
      ids.push_back(*id);
    }
    json::object o;
    o["ids"] = std::move(ids);
    return JsonResponse(200, o);
  }
  if (is("DELETE", {"faults"})) {
    faults_.Clear();
    return JsonResponse(200, json::parse(R"({"ok":true})"));
  }
  if (is("GET", {"kms"})) {
    json::object o;
    json::array items;
    for (const Row& r : store_->ListKms()) items.push_back(r.data);
    o["kms"] = std::move(items);
    return JsonResponse(200, o);
  }
  if (is("GET", {"cvms"})) {
    json::array items;
    for (const Row& r : store_->ListCvms()) {
      json::object s;
      s["id"] = r.id;
      for (const char* k : {"name", "app_id", "vm_uuid", "instance_id", "kms_type", "compose_hash", "status"}) {
        if (r.data.contains(k)) s[k] = r.data.at(k);
      }
      items.push_back(std::move(s));
    }
    json::object o;
    o["cvms"] = std::move(items);
    return JsonResponse(200, o);
  }
  if (is("GET", {"cvms", "*"})) {
    std::optional<Row> cvm = ResolveCvm(segs[1]);
    if (!cvm) return Detail(404, absl::StrCat("CVM '", segs[1], "' not found"));
    json::object o;
    o["id"] = cvm->id;
    o["cvm"] = cvm->data;
    json::array records = store_->EnvRecords(cvm->id);
    o["env"] = records.empty() ? json::value(nullptr) : records.back();
    o["env_records"] = std::move(records);
    o["compose_history"] = store_->ComposeHistory(cvm->id);
    o["pending_updates"] = store_->ListPending(cvm->id);
    std::optional<std::pair<std::string, std::string>> key = store_->GetAppKey(Str(cvm->data, "app_id"));
    o["env_encrypt_public_key"] = key ? json::value(key->second) : json::value(nullptr);
    // For oracles that decrypt the stored encrypted_env with code of their own (test/oracle).
    o["env_encrypt_private_key"] = key ? json::value(key->first) : json::value(nullptr);
    return JsonResponse(200, o);
  }
  if (is("GET", {"boot"})) return JsonResponse(200, BootRulesJson(boot_rules()));
  if (is("POST", {"boot"})) {
    boost::system::error_code ec;
    json::value v = json::parse(req.body, ec);
    if (ec) return Detail(400, "boot rules must be JSON");
    absl::MutexLock lock(&boot_mu_);
    absl::StatusOr<BootRules> rules = ParseBootRules(v, boot_rules_);
    if (!rules.ok()) return Detail(400, rules.status().message());
    boot_rules_ = *rules;
    (void)store_->SetMeta("boot_rules", api::ToJson(BootRulesJson(boot_rules_)));
    return JsonResponse(200, BootRulesJson(boot_rules_));
  }
  if (is("GET", {"config"})) {
    json::object o;  // no API keys here
    o["base_path"] = config_.base_path;
    o["rpc_url"] = config_.rpc_url;
    o["chain_id"] = config_.chain_id;
    o["kms_contract"] = NullIfEmpty(config_.kms_contract);
    o["gateway_app_id"] = NullIfEmpty(config_.gateway_app_id);
    o["device_id"] = device_id_;
    o["node_id"] = config_.node_id;
    o["phala_app_deployer"] = ChecksumAddress(phala_deployer_);
    o["kms"] = KmsSummary();
    return JsonResponse(200, o);
  }
  return Detail(404, "Not Found");
}

}  // namespace cloudsim
