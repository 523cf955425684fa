#include "test/cloudsim/api_util.h"

#include <algorithm>

#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cloudapi/compose_hash.h"
#include "cloudapi/js_json.h"

namespace cloudsim::api {

std::string NowIso() { return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone()); }

// JSON.stringify's output, as the real (JS-facing) service's JSON reads to the SDK.
std::string ToJson(const json::value& v) {
  absl::StatusOr<std::string> s = cloudapi::StringifyLikeJs(v);
  return s.ok() ? *s : json::serialize(v);
}

HttpResponse JsonResponse(int status, const json::value& v) {
  HttpResponse r;
  r.status = status;
  r.body = ToJson(v);
  return r;
}

// The compose hash as Phala Cloud computes it (facts §9 form b, the SDK's getHash()).
std::string ServiceComposeHash(const json::object& app_compose) {
  absl::StatusOr<std::string> h = cloudapi::ComposeHash(app_compose, cloudapi::ComposeHashForm::kIndented);
  // Only invalid UTF-8 fails, and Boost.JSON rejected that when it parsed the request.
  return h.ok() ? *h : std::string(64, '0');
}

HttpResponse Detail(int status, absl::string_view message) {
  json::object o;
  o["detail"] = std::string(message);
  return JsonResponse(status, o);
}

// {"detail": {"error_code", "message", "details", "suggestions", "links"}} -> SDK ResourceError.
HttpResponse Structured(int status, absl::string_view code, absl::string_view message, json::array details,
                        json::array suggestions) {
  json::object d;
  d["error_code"] = std::string(code);
  d["message"] = std::string(message);
  d["details"] = std::move(details);
  d["suggestions"] = std::move(suggestions);
  d["links"] = json::array();
  json::object o;
  o["detail"] = std::move(d);
  return JsonResponse(status, o);
}

HttpResponse RpcUnavailable(const absl::Status& s) {
  return Detail(503, absl::StrCat("Blockchain RPC unavailable: ", s.message()));
}

json::object ErrItem(json::array loc, absl::string_view type, absl::string_view msg, const json::value& input) {
  json::object e;
  e["type"] = std::string(type);
  e["loc"] = std::move(loc);
  e["msg"] = std::string(msg);
  e["input"] = input;
  return e;
}

// Parses a JSON object body; on failure the 422 FastAPI sends for an undecodable body.
std::optional<HttpResponse> ParseBodyObject(const HttpRequest& req, json::object* out) {
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec) {
    json::object ctx;
    ctx["error"] = ec.message();
    json::object e =
        ErrItem({json::value("body"), json::value(0)}, "json_invalid", "JSON decode error", json::object());
    e["ctx"] = std::move(ctx);
    json::object o;
    o["detail"] = json::array{e};
    return JsonResponse(422, o);
  }
  if (!v.is_object()) {
    json::object o;
    o["detail"] = json::array{ErrItem({json::value("body")}, "model_attributes_type",
                                      "Input should be a valid dictionary or object to extract fields from", v)};
    return JsonResponse(422, o);
  }
  *out = std::move(v.get_object());
  return std::nullopt;
}

std::optional<HttpResponse> QueryError(const char* key, absl::string_view type, absl::string_view msg,
                                       absl::string_view input) {
  json::object o;
  o["detail"] =
      json::array{ErrItem({json::value("query"), json::value(key)}, type, msg, json::value(std::string(input)))};
  return JsonResponse(422, o);
}

// Pydantic's lax boolean parsing of a query value.
std::optional<bool> ParseBool(absl::string_view s) {
  std::string l = absl::AsciiStrToLower(s);
  for (const char* t : {"1", "on", "t", "true", "y", "yes"}) {
    if (l == t) return true;
  }
  for (const char* f : {"0", "off", "f", "false", "n", "no"}) {
    if (l == f) return false;
  }
  return std::nullopt;
}

std::map<std::string, std::string> QueryParams(absl::string_view query) {
  std::map<std::string, std::string> out;
  boost::system::result<boost::urls::params_view> p =
      boost::urls::parse_query(std::string_view(query.data(), query.size()));
  if (!p) return out;
  for (const boost::urls::param& kv : *p) out[kv.key] = kv.value;
  return out;
}

std::optional<HttpResponse> PositiveIntParam(const std::map<std::string, std::string>& q, const char* key,
                                             std::optional<int64_t>* value) {
  auto it = q.find(key);
  if (it == q.end()) return std::nullopt;
  int64_t v = 0;
  if (!absl::SimpleAtoi(it->second, &v)) {
    return QueryError(key, "int_parsing", "Input should be a valid integer, unable to parse string as an integer",
                      it->second);
  }
  if (v < 1) return QueryError(key, "greater_than_equal", "Input should be greater than or equal to 1", it->second);
  *value = v;
  return std::nullopt;
}

std::optional<HttpResponse> PageParams(const std::map<std::string, std::string>& q, int64_t* page, int64_t* page_size) {
  std::optional<int64_t> p, size;
  if (std::optional<HttpResponse> bad = PositiveIntParam(q, "page", &p)) return bad;
  if (std::optional<HttpResponse> bad = PositiveIntParam(q, "page_size", &size)) return bad;
  if (size && *size > 100) {
    return QueryError("page_size", "less_than_equal", "Input should be less than or equal to 100", q.at("page_size"));
  }
  if (p) *page = *p;
  if (size) *page_size = *size;
  return std::nullopt;
}

std::string Str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : "";
}

int64_t Int(const json::object& o, const char* key, int64_t def) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return def;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return def;
}

json::value NullIfEmpty(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); }

std::set<std::string> KeySet(const json::value* arr) {
  std::set<std::string> out;
  if (arr != nullptr && arr->is_array()) {
    for (const json::value& v : arr->get_array()) {
      if (v.is_string()) out.insert(std::string(v.get_string()));
    }
  }
  return out;
}

bool IsDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsHex(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); });
}

std::string Pad32(absl::string_view hex40) { return std::string(24, '0') + std::string(hex40); }

Fields::Fields(const json::object& obj) : obj_(obj), prefix_{json::value("body")}, errors_(&own_) {}

Fields::Fields(const json::object& obj, Fields& parent, const char* key)
    : obj_(obj), prefix_(parent.prefix_), errors_(parent.errors_) {
  prefix_.push_back(json::value(key));
}

const json::value* Fields::Get(const char* key) const {
  const json::value* v = obj_.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

std::optional<std::string> Fields::Str(const char* key, bool required) {
  const json::value* v = obj_.if_contains(key);
  if (v == nullptr || (v->is_null() && !required)) {
    if (required) Missing(key);
    return std::nullopt;
  }
  if (!v->is_string()) {
    Add(key, "string_type", "Input should be a valid string", *v);
    return std::nullopt;
  }
  return std::string(v->get_string());
}

std::optional<bool> Fields::Bool(const char* key) {
  const json::value* v = Get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) {
    Add(key, "bool_type", "Input should be a valid boolean", *v);
    return std::nullopt;
  }
  return v->get_bool();
}

std::optional<int64_t> Fields::Int(const char* key) {
  const json::value* v = Get(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double() && v->get_double() == static_cast<double>(static_cast<int64_t>(v->get_double()))) {
    return static_cast<int64_t>(v->get_double());
  }
  Add(key, "int_type", "Input should be a valid integer", *v);
  return std::nullopt;
}

std::optional<json::array> Fields::StrList(const char* key) {
  const json::value* v = Get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) {
    Add(key, "list_type", "Input should be a valid list", *v);
    return std::nullopt;
  }
  bool ok = true;
  const json::array& a = v->get_array();
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string()) {
      json::array loc = prefix_;
      loc.push_back(json::value(key));
      loc.push_back(json::value(static_cast<int64_t>(i)));
      errors_->push_back(ErrItem(std::move(loc), "string_type", "Input should be a valid string", a[i]));
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return a;
}

const json::object* Fields::Obj(const char* key, bool required) {
  const json::value* v = obj_.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) Missing(key);
    return nullptr;
  }
  if (!v->is_object()) {
    Add(key, "model_attributes_type", "Input should be a valid dictionary or object to extract fields from", *v);
    return nullptr;
  }
  return &v->get_object();
}

void Fields::Add(const char* key, absl::string_view type, absl::string_view msg, const json::value& input) {
  json::array loc = prefix_;
  loc.push_back(json::value(key));
  errors_->push_back(ErrItem(std::move(loc), type, msg, input));
}

void Fields::Missing(const char* key) { Add(key, "missing", "Field required", obj_); }

void Fields::ValueError(const char* key, absl::string_view msg, const json::value& input) {
  Add(key, "value_error", absl::StrCat("Value error, ", msg), input);
}

HttpResponse Fields::Error() const {
  json::object o;
  o["detail"] = *errors_;
  return JsonResponse(422, o);
}

std::vector<std::string> Segments(absl::string_view path) {
  std::vector<std::string> out;
  for (absl::string_view s : absl::StrSplit(path, '/', absl::SkipEmpty())) out.emplace_back(s);
  return out;
}

bool ValidHostname(absl::string_view n) {
  if (n.size() < 5 || n.size() > 63) return false;
  if (!absl::ascii_isalpha(static_cast<unsigned char>(n[0]))) return false;
  if (n.find("--") != absl::string_view::npos) return false;
  for (char c : n) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return n.back() != '-';
}

size_t ComposePayloadSize(const json::object& compose) {
  size_t n = 0;
  for (const char* k : {"docker_compose_file", "pre_launch_script"}) {
    if (const json::value* v = compose.if_contains(k); v && v->is_string()) {
      n += v->get_string().size();
    }
  }
  return n;
}

json::value Number(double d) {
  if (d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
  return d;
}

bool BoolOf(const json::object& o, const char* key, bool def) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() ? v->get_bool() : def;
}

HttpResponse CvmNotFound(absl::string_view ref) {
  return Structured(404, "ERR-03-001", absl::StrCat("CVM '", ref, "' not found"));
}

}  // namespace cloudsim::api
