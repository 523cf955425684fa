#include "cloudapi/types.h"

#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "chain/hex.h"
#include "cloudapi/js_json.h"

namespace cloudapi {
namespace {

namespace json = boost::json;

bool IsUnreserved(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~';
}

std::string PercentEncode(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (IsUnreserved(c)) {
      out.push_back(c);
    } else {
      const auto u = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

bool IsHexDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// 40 hex digits with an optional 0x, lower-cased without the prefix.
absl::StatusOr<std::string> Hex40(absl::string_view text, absl::string_view what) {
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text.remove_prefix(2);
  if (text.size() != 40 || !IsHexDigits(text)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": want 40 hex digits (optional 0x)"));
  }
  return absl::AsciiStrToLower(text);
}

std::optional<std::vector<std::string>> AsStringList(const json::value& v) {
  if (!v.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const json::value& e : v.get_array()) {
    if (!e.is_string()) return std::nullopt;
    out.emplace_back(e.get_string());
  }
  return out;
}

json::array ToArray(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// CvmRef

CvmRef CvmRef::Id(absl::string_view id) { return CvmRef(PercentEncode(id)); }

absl::StatusOr<CvmRef> CvmRef::Uuid(absl::string_view uuid) {
  std::string hex = absl::StrReplaceAll(uuid, {{"-", ""}});
  if (hex.size() != 32 || !IsHexDigits(hex)) {
    return absl::InvalidArgumentError("cvm uuid: want 32 hex digits, dashes allowed");
  }
  return CvmRef(absl::AsciiStrToLower(hex));
}

absl::StatusOr<CvmRef> CvmRef::AppId(absl::string_view app_id) {
  absl::StatusOr<std::string> hex = Hex40(app_id, "app id");
  if (!hex.ok()) return hex.status();
  return CvmRef(absl::StrCat("app_", *hex));
}

CvmRef CvmRef::App(const chain::Address& app_id) {
  return CvmRef(absl::StrCat("app_", chain::ToHex(app_id.bytes(), /*prefix=*/false)));
}

absl::StatusOr<CvmRef> CvmRef::InstanceId(absl::string_view instance_id) {
  absl::StatusOr<std::string> hex = Hex40(instance_id, "instance id");
  if (!hex.ok()) return hex.status();
  return CvmRef(absl::StrCat("instance_", *hex));
}

absl::StatusOr<chain::Address> ParseAppId(absl::string_view text) {
  if (text.size() == 40) return chain::Address::Parse(absl::StrCat("0x", text));
  if (text.size() == 42 && text[0] == '0' && text[1] == 'X')
    return chain::Address::Parse(absl::StrCat("0x", text.substr(2)));
  return chain::Address::Parse(text);
}

// ---------------------------------------------------------------------------------------------
// KmsInfo

bool KmsInfo::HasSdkSupportedChain() const {
  return chain_id && (*chain_id == 1 || *chain_id == 8453 || *chain_id == 31337);
}

// ---------------------------------------------------------------------------------------------
// AppCompose

AppCompose AppCompose::FromJson(const json::object& object) {
  AppCompose c;
  for (const json::key_value_pair& kv : object) {
    const json::string_view key = kv.key();
    const json::value& v = kv.value();
    auto str = [&](std::optional<std::string>& field) {
      if (!v.is_string()) return false;
      field = std::string(v.get_string());
      return true;
    };
    auto boolean = [&](std::optional<bool>& field) {
      if (!v.is_bool()) return false;
      field = v.get_bool();
      return true;
    };
    auto list = [&](std::optional<std::vector<std::string>>& field) {
      field = AsStringList(v);
      return field.has_value();
    };
    bool typed = false;
    if (key == "manifest_version") {
      c.manifest_version = JsonAsInt(v);
      typed = c.manifest_version.has_value();
    } else if (key == "name") {
      typed = str(c.name);
    } else if (key == "runner") {
      typed = str(c.runner);
    } else if (key == "docker_compose_file") {
      typed = str(c.docker_compose_file);
    } else if (key == "pre_launch_script") {
      typed = str(c.pre_launch_script);
    } else if (key == "allowed_envs") {
      typed = list(c.allowed_envs);
    } else if (key == "features") {
      typed = list(c.features);
    } else if (key == "kms_enabled") {
      typed = boolean(c.kms_enabled);
    } else if (key == "gateway_enabled") {
      typed = boolean(c.gateway_enabled);
    } else if (key == "tproxy_enabled") {
      typed = boolean(c.tproxy_enabled);
    } else if (key == "public_logs") {
      typed = boolean(c.public_logs);
    } else if (key == "public_sysinfo") {
      typed = boolean(c.public_sysinfo);
    } else if (key == "public_tcbinfo") {
      typed = boolean(c.public_tcbinfo);
    } else if (key == "storage_fs") {
      typed = str(c.storage_fs);
    } else if (key == "salt") {
      typed = str(c.salt);
    }
    if (!typed) c.extra[key] = v;
  }
  return c;
}

json::object AppCompose::ToJson() const {
  json::object o;
  auto put_str = [&](const char* key, const std::optional<std::string>& v) {
    if (v) o[key] = *v;
  };
  auto put_bool = [&](const char* key, const std::optional<bool>& v) {
    if (v) o[key] = *v;
  };
  auto put_list = [&](const char* key, const std::optional<std::vector<std::string>>& v) {
    if (v) o[key] = ToArray(*v);
  };
  if (manifest_version) o["manifest_version"] = *manifest_version;
  put_str("name", name);
  put_str("runner", runner);
  put_str("docker_compose_file", docker_compose_file);
  put_str("pre_launch_script", pre_launch_script);
  put_list("allowed_envs", allowed_envs);
  put_list("features", features);
  put_bool("kms_enabled", kms_enabled);
  put_bool("gateway_enabled", gateway_enabled);
  put_bool("tproxy_enabled", tproxy_enabled);
  put_bool("public_logs", public_logs);
  put_bool("public_sysinfo", public_sysinfo);
  put_bool("public_tcbinfo", public_tcbinfo);
  put_str("storage_fs", storage_fs);
  put_str("salt", salt);
  for (const json::key_value_pair& kv : extra) {
    if (!o.contains(kv.key())) o[kv.key()] = kv.value();
  }
  return o;
}

}  // namespace cloudapi
