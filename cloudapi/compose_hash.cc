#include "cloudapi/compose_hash.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chain/hex.h"
#include "cloudapi/js_json.h"
#include "cloudapi/js_text.h"
#include "crypto/sha256.h"

namespace cloudapi {
namespace {

namespace json = boost::json;

absl::string_view View(json::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsString(const json::object& o, absl::string_view key, absl::string_view want) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  return v != nullptr && v->is_string() && View(v->get_string()) == want;
}

// JS truthiness of a JSON value.
bool Truthy(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return false;
    case json::kind::bool_:
      return v.get_bool();
    case json::kind::int64:
      return v.get_int64() != 0;
    case json::kind::uint64:
      return v.get_uint64() != 0;
    case json::kind::double_:
      return v.get_double() != 0 && v.get_double() == v.get_double();  // 0, -0, NaN are falsy
    case json::kind::string:
      return !v.get_string().empty();
    case json::kind::array:
    case json::kind::object:
      return true;
  }
  return true;
}

}  // namespace

json::value SortObjectLikeSdk(const json::value& value) {
  if (value.is_array()) {
    json::array out;
    out.reserve(value.get_array().size());
    for (const json::value& v : value.get_array()) out.push_back(SortObjectLikeSdk(v));
    return out;
  }
  if (!value.is_object()) return value;
  const json::object& in = value.get_object();
  if (in.contains("constructor")) return value;  // obj.constructor !== Object: left untouched
  std::vector<const json::key_value_pair*> props;
  props.reserve(in.size());
  for (const json::key_value_pair& kv : in) props.push_back(&kv);
  std::stable_sort(props.begin(), props.end(),
                   [](const auto* a, const auto* b) { return JsStringLess(View(a->key()), View(b->key())); });
  json::object out;
  out.reserve(props.size());
  for (const json::key_value_pair* kv : props) {
    if (View(kv->key()) == "__proto__") continue;  // result["__proto__"] = ... hits the setter
    out.emplace(kv->key(), SortObjectLikeSdk(kv->value()));
  }
  return out;
}

json::object PreprocessAppCompose(const json::object& app_compose) {
  const char* drop_for_runner = nullptr;
  if (IsString(app_compose, "runner", "bash")) {
    drop_for_runner = "docker_compose_file";
  } else if (IsString(app_compose, "runner", "docker-compose")) {
    drop_for_runner = "bash_script";
  }
  json::object out;
  out.reserve(app_compose.size());
  for (const json::key_value_pair& kv : app_compose) {
    const absl::string_view key = View(kv.key());
    if (drop_for_runner != nullptr && key == drop_for_runner) continue;
    if (key == "pre_launch_script" && !Truthy(kv.value())) continue;
    out.emplace(kv.key(), kv.value());
  }
  return out;
}

absl::StatusOr<std::string> DumpAppCompose(const json::object& app_compose) {
  absl::StatusOr<std::string> pretty = StringifyLikeJs(SortObjectLikeSdk(app_compose), 4);
  if (!pretty.ok()) return pretty.status();
  // json.replace(/": /g, '":')
  std::string out;
  out.reserve(pretty->size());
  const std::string& s = *pretty;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"' && i + 2 < s.size() && s[i + 1] == ':' && s[i + 2] == ' ') {
      out += "\":";
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

absl::StatusOr<std::string> ComposeHashInput(const json::object& app_compose, ComposeHashForm form) {
  switch (form) {
    case ComposeHashForm::kCompact:
      return StringifyLikeJs(SortObjectLikeSdk(app_compose));
    case ComposeHashForm::kCompactNormalized:
      return StringifyLikeJs(SortObjectLikeSdk(PreprocessAppCompose(app_compose)));
    case ComposeHashForm::kIndented:
      return DumpAppCompose(PreprocessAppCompose(app_compose));
  }
  return absl::InvalidArgumentError("compose hash: unknown form");
}

absl::StatusOr<std::string> ComposeHashInput(absl::string_view app_compose_json, ComposeHashForm form) {
  absl::StatusOr<json::value> parsed = ParseJsonLikeJs(app_compose_json);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("app compose: ", parsed.status().message()));
  }
  if (!parsed->is_object()) {
    return absl::InvalidArgumentError("app compose: not a JSON object");
  }
  return ComposeHashInput(parsed->get_object(), form);
}

absl::StatusOr<std::string> ComposeHash(const json::object& app_compose, ComposeHashForm form) {
  absl::StatusOr<std::string> input = ComposeHashInput(app_compose, form);
  if (!input.ok()) return input.status();
  return chain::ToHex(crypto::Sha256(*input), /*prefix=*/false);
}

absl::StatusOr<std::string> ComposeHash(absl::string_view app_compose_json, ComposeHashForm form) {
  absl::StatusOr<std::string> input = ComposeHashInput(app_compose_json, form);
  if (!input.ok()) return input.status();
  return chain::ToHex(crypto::Sha256(*input), /*prefix=*/false);
}

}  // namespace cloudapi
