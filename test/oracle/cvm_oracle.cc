#include "test/oracle/cvm_oracle.h"

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "test/anvil/harness.h"

namespace oracle {
namespace {

namespace json = boost::json;

std::string Str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

absl::StatusOr<std::string> Script() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr) return absl::FailedPreconditionError("run under bazel test");
  return absl::StrCat(srcdir, "/", workspace, "/test/oracle/cvm_oracle.js");
}

}  // namespace

absl::StatusOr<CvmView> InspectCvm(const std::string& admin_url, const std::string& cvm_id) {
  absl::StatusOr<std::string> script = Script();
  if (!script.ok()) return script.status();
  absl::StatusOr<anvil::CommandResult> r = anvil::RunCommand({"/usr/bin/env", "node", *script, admin_url, cvm_id});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::FailedPreconditionError(absl::StrCat("cvm_oracle.js exited ", r->exit_code, ": ", r->err));
  }
  json::error_code ec;
  json::value v = json::parse(r->out, ec);
  if (ec || !v.is_object()) return absl::InternalError(absl::StrCat("cvm_oracle.js printed no JSON object: ", r->out));
  const json::object& o = v.as_object();
  CvmView view;
  view.compose_hash = Str(o, "compose_hash");
  view.stored_compose_hash = Str(o, "stored_compose_hash");
  view.public_key = Str(o, "public_key");
  view.published_public_key = Str(o, "published_public_key");
  if (const json::value* c = o.if_contains("app_compose"); c != nullptr && c->is_object())
    view.app_compose = c->as_object();
  if (const json::value* env = o.if_contains("env"); env != nullptr && env->is_array()) {
    view.env.emplace();
    for (const json::value& e : env->as_array()) {
      view.env->emplace_back(Str(e.as_object(), "key"), Str(e.as_object(), "value"));
    }
    view.plaintext = absl::HexStringToBytes(Str(o, "plaintext_hex"));
  }
  return view;
}

std::map<std::string, std::string> EnvMap(const CvmView& view) {
  std::map<std::string, std::string> out;
  if (view.env) {
    for (const auto& [k, v] : *view.env) out[k] = v;
  }
  return out;
}

}  // namespace oracle
