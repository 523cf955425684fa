#include "test/anvil/artifacts.h"

#include <algorithm>
#include <cstddef>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "test/anvil/embedded_artifacts.h"

namespace anvil {
namespace {

namespace json = boost::json;

absl::StatusOr<std::string> StringField(const json::object& o, absl::string_view key, absl::string_view name) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr || !v->is_string()) {
    return absl::InternalError(absl::StrCat("artifact ", name, ": field ", key, " missing or not a string"));
  }
  return std::string(v->as_string());
}

}  // namespace

absl::StatusOr<ContractArtifact> LoadArtifact(absl::string_view name) {
  for (std::size_t i = 0; i < internal::kEmbeddedArtifactCount; ++i) {
    const internal::EmbeddedArtifact& e = internal::kEmbeddedArtifacts[i];
    if (name != e.name) continue;
    json::error_code ec;
    json::value v = json::parse(e.json, ec);
    if (ec || !v.is_object()) {
      return absl::InternalError(absl::StrCat("artifact ", name, ": not a json object"));
    }
    const json::object& o = v.as_object();
    ContractArtifact a;
    a.name = e.name;
    const json::value* abi = o.if_contains("abi");
    if (abi == nullptr || !abi->is_array()) {
      return absl::InternalError(absl::StrCat("artifact ", name, ": no abi"));
    }
    a.abi = abi->as_array();
    absl::StatusOr<std::string> s = StringField(o, "bytecode", name);
    if (!s.ok()) return s.status();
    a.bytecode = *std::move(s);
    s = StringField(o, "deployedBytecode", name);
    if (!s.ok()) return s.status();
    a.deployed_bytecode = *std::move(s);
    s = StringField(o, "sourcesSha256", name);
    if (!s.ok()) return s.status();
    a.sources_sha256 = *std::move(s);
    const json::value* compiler = o.if_contains("compiler");
    if (compiler == nullptr || !compiler->is_object()) {
      return absl::InternalError(absl::StrCat("artifact ", name, ": no compiler"));
    }
    s = StringField(compiler->as_object(), "version", name);
    if (!s.ok()) return s.status();
    a.solc_version = *std::move(s);
    return a;
  }
  return absl::NotFoundError(
      absl::StrCat("no contract artifact ", name, "; have: ", absl::StrJoin(ArtifactNames(), ", ")));
}

std::vector<std::string> ArtifactNames() {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < internal::kEmbeddedArtifactCount; ++i) {
    names.emplace_back(internal::kEmbeddedArtifacts[i].name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace anvil
