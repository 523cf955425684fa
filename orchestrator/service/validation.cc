#include "orchestrator/service/validation.h"

#include <algorithm>
#include <memory>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "chain/address.h"
#include "chain/hash32.h"
#include "chain/hex.h"
#include "cloudapi/wire.h"
#include "crypto/sha256.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message.h"
#include "platform/status_macros.h"

namespace orchestrator::service {
namespace {

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

bool IsEnvKeyChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-'; }

bool ValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

absl::Status ValidEnvKey(absl::string_view field, absl::string_view key) {
  if (key.empty()) return Bad(field, "required");
  if (key.size() > kMaxEnvKey) return Bad(field, absl::StrCat("longer than ", kMaxEnvKey, " characters"));
  if (!std::all_of(key.begin(), key.end(), IsEnvKeyChar)) {
    return Bad(field, "only letters, digits, '_', '.' and '-' are allowed");
  }
  if (key == "__proto__") return Bad(field, "__proto__ cannot be used");
  return absl::OkStatus();
}

// A CVM name as the API accepts it: 5-63, letter first, letters/digits/hyphens, no "--", not
// ending in a hyphen.
bool ValidCvmName(absl::string_view n) {
  if (n.size() < 5 || n.size() > 63) return false;
  if (!absl::ascii_isalpha(n[0])) return false;
  if (absl::StrContains(n, "--") || n.back() == '-') return false;
  return std::all_of(n.begin(), n.end(), [](char c) { return absl::ascii_isalnum(c) || c == '-'; });
}

bool PrintableAscii(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

absl::StatusOr<chain::Address> ParseAddress(absl::string_view field, absl::string_view text) {
  absl::StatusOr<chain::Address> a = chain::Address::Parse(text);
  if (!a.ok())
    return Bad(field, absl::StrCat("not an address (0x + 40 hex, EIP-55 if mixed case): ", a.status().message()));
  if (a->IsZero()) return Bad(field, "the zero address is not allowed");
  return *a;
}

absl::StatusOr<std::string> NormalizeAddress(absl::string_view field, absl::string_view text) {
  ASSIGN_OR_RETURN(const chain::Address a, ParseAddress(field, text));
  return a.Checksummed();
}

absl::StatusOr<std::string> NormalizeHash(absl::string_view field, absl::string_view text, bool nonzero) {
  absl::StatusOr<chain::Hash32> h = chain::Hash32::FromHex(text);
  if (!h.ok()) return Bad(field, "want 32 bytes of hex (64 hex digits, 0x optional)");
  if (nonzero && h->IsZero()) return Bad(field, "must not be zero");
  return h->Hex();
}

absl::Status ValidateCvmId(absl::string_view cvm_id) {
  if (cvm_id.empty()) return Bad("cvm_id", "required");
  if (cvm_id.size() > 128) return Bad("cvm_id", "longer than 128 characters");
  if (!PrintableAscii(cvm_id)) return Bad("cvm_id", "only printable ASCII without spaces");
  if (absl::StartsWith(cvm_id, "0x") && (cvm_id.size() != 42 || !chain::FromHex(cvm_id).ok())) {
    return Bad("cvm_id", "an app id is 0x + 40 hex digits");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<chain::Address>> ResolveSigner(const std::string& requested,
                                                            const ValidationContext& ctx) {
  if (requested.empty()) return ctx.default_signer_key;
  ASSIGN_OR_RETURN(const chain::Address a, ParseAddress("signer_key_address", requested));
  return a;
}

// docker_compose_file, pre_launch_script, allowed_envs, features and the small strings.
absl::Status ValidateCompose(const v1::AppCompose& c, absl::string_view prefix, bool require_docker) {
  auto f = [&](absl::string_view name) { return absl::StrCat(prefix, ".", name); };
  if (require_docker && c.docker_compose_file().empty()) return Bad(f("docker_compose_file"), "required");
  if (c.docker_compose_file().size() + c.pre_launch_script().size() > kMaxComposePayload) {
    return Bad(f("docker_compose_file"),
               absl::StrCat("docker_compose_file and pre_launch_script together exceed 200 KiB (",
                            c.docker_compose_file().size() + c.pre_launch_script().size(), " bytes)"));
  }
  if (!ValidUtf8(c.docker_compose_file())) return Bad(f("docker_compose_file"), "not valid UTF-8");
  if (!ValidUtf8(c.pre_launch_script())) return Bad(f("pre_launch_script"), "not valid UTF-8");
  if (c.name().size() > 63 || !ValidUtf8(c.name())) return Bad(f("name"), "at most 63 characters of UTF-8");
  if (c.allowed_envs_size() > static_cast<int>(kMaxEnvVars)) return Bad(f("allowed_envs"), "too many entries");
  std::set<std::string> seen;
  for (int i = 0; i < c.allowed_envs_size(); ++i) {
    const std::string field = absl::StrCat(prefix, ".allowed_envs[", i, "]");
    RETURN_IF_ERROR(ValidEnvKey(field, c.allowed_envs(i)));
    if (!seen.insert(c.allowed_envs(i)).second) return Bad(field, absl::StrCat("duplicate key ", c.allowed_envs(i)));
  }
  if (c.features_size() > 16) return Bad(f("features"), "at most 16 entries");
  for (int i = 0; i < c.features_size(); ++i) {
    if (c.features(i).empty() || c.features(i).size() > 64 || !PrintableAscii(c.features(i))) {
      return Bad(absl::StrCat(prefix, ".features[", i, "]"), "1-64 printable ASCII characters");
    }
  }
  if (c.key_provider_id().size() > 128 || !PrintableAscii(c.key_provider_id())) {
    return Bad(f("key_provider_id"), "at most 128 printable ASCII characters");
  }
  if (!c.runner().empty() && c.runner() != "docker-compose" && c.runner() != "bash") {
    return Bad(f("runner"), "want \"docker-compose\" or \"bash\"");
  }
  if (c.manifest_version() > 16) return Bad(f("manifest_version"), "unsupported version");
  if (!v1::StorageFs_IsValid(c.storage_fs())) return Bad(f("storage_fs"), "unknown value");
  return absl::OkStatus();
}

const cloudapi::KmsInfo* FindKms(const ValidationContext& ctx, absl::string_view id) {
  for (const cloudapi::KmsInfo& k : ctx.kms) {
    if (k.id == id || (k.slug.has_value() && *k.slug == id)) return &k;
  }
  return nullptr;
}

bool IsOnchain(const cloudapi::KmsInfo& k) { return k.chain_id.has_value() && *k.chain_id > 0; }

void ClearEnvValues(google::protobuf::Message& m) {
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  const google::protobuf::Reflection* r = m.GetReflection();
  if (const google::protobuf::FieldDescriptor* id = d->FindFieldByName("request_id")) r->ClearField(&m, id);
  if (const google::protobuf::FieldDescriptor* env = d->FindFieldByName("env_vars")) {
    for (int i = 0; i < r->FieldSize(m, env); ++i) {
      auto* e = static_cast<v1::EnvVar*>(r->MutableRepeatedMessage(&m, env, i));
      e->clear_value();
    }
  }
}

std::string Deterministic(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream s(&out);
    google::protobuf::io::CodedOutputStream c(&s);
    c.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&c);
  }
  return out;
}

}  // namespace

absl::Status ValidateRequestId(absl::string_view id) {
  if (id.empty()) return Bad("request_id", "required");
  if (id.size() > 128) return Bad("request_id", "longer than 128 characters");
  if (!std::all_of(id.begin(), id.end(),
                   [](char c) { return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-'; })) {
    return Bad("request_id", "only letters, digits, '.', '_', ':' and '-' are allowed");
  }
  return absl::OkStatus();
}

absl::Status ValidateOperationId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return Bad(field, "required");
  if (id.size() > 64 || !PrintableAscii(id)) return Bad(field, "not an operation id");
  return absl::OkStatus();
}

absl::Status ValidateEnvVars(const google::protobuf::RepeatedPtrField<v1::EnvVar>& vars, absl::string_view field) {
  if (vars.size() > static_cast<int>(kMaxEnvVars))
    return Bad(field, absl::StrCat("more than ", kMaxEnvVars, " entries"));
  std::set<std::string> seen;
  size_t total = 0;
  for (int i = 0; i < vars.size(); ++i) {
    const std::string f = absl::StrCat(field, "[", i, "]");
    RETURN_IF_ERROR(ValidEnvKey(absl::StrCat(f, ".key"), vars[i].key()));
    if (!seen.insert(vars[i].key()).second)
      return Bad(absl::StrCat(f, ".key"), absl::StrCat("duplicate key ", vars[i].key()));
    if (vars[i].value().size() > kMaxEnvValue) {
      return Bad(absl::StrCat(f, ".value"), absl::StrCat("larger than 64 KiB (key ", vars[i].key(), ")"));
    }
    if (!ValidUtf8(vars[i].value()))
      return Bad(absl::StrCat(f, ".value"), absl::StrCat("not valid UTF-8 (key ", vars[i].key(), ")"));
    total += vars[i].value().size() + vars[i].key().size();
  }
  if (total > kMaxEnvTotal) return Bad(field, "keys and values together exceed 1 MiB");
  return absl::OkStatus();
}

// The KMS must be one the API lists, of the right kind, on a chain we serve. Normalizes
// kms_contract_address.
absl::Status ValidateDeployKms(v1::DeployCvmRequest& r, const ValidationContext& ctx, bool onchain) {
  const v1::KmsType t = r.kms_type();
  if (!r.kms_id().empty()) {
    if (r.kms_id().size() > 128 || !PrintableAscii(r.kms_id())) return Bad("kms_id", "not a KMS id");
    const cloudapi::KmsInfo* k = FindKms(ctx, r.kms_id());
    if (k == nullptr) return Bad("kms_id", absl::StrCat("unknown KMS '", r.kms_id(), "' (see ListKmsInstances)"));
    if (IsOnchain(*k) != onchain) {
      return Bad("kms_id", absl::StrCat("KMS '", r.kms_id(), "' is ", IsOnchain(*k) ? "on-chain" : "off-chain (PHALA)",
                                        ", kms_type says ", v1::KmsType_Name(t)));
    }
    if (onchain && ctx.chains.count(static_cast<uint64_t>(*k->chain_id)) == 0) {
      return Bad("kms_id", absl::StrCat("KMS '", r.kms_id(), "' is on chain ", *k->chain_id,
                                        ", which this orchestrator is not configured for"));
    }
  } else if (onchain) {
    bool any = false;
    for (const cloudapi::KmsInfo& k : ctx.kms) any = any || (IsOnchain(k) && ctx.chains.count(*k.chain_id) > 0);
    if (!any) return Bad("kms_type", "no on-chain KMS on a configured chain is available");
  }
  if (!r.kms_contract_address().empty()) {
    if (!onchain) return Bad("kms_contract_address", "only for an on-chain KMS");
    ASSIGN_OR_RETURN(const chain::Address a, ParseAddress("kms_contract_address", r.kms_contract_address()));
    bool known = false;
    for (const cloudapi::KmsInfo& k : ctx.kms) {
      known =
          known || (k.kms_contract_address == a && (r.kms_id().empty() || k.id == r.kms_id() || k.slug == r.kms_id()));
    }
    if (!known) return Bad("kms_contract_address", absl::StrCat("unknown KMS contract ", a.Checksummed()));
    r.set_kms_contract_address(a.Checksummed());
  }
  return absl::OkStatus();
}

// The fields that belong to one kind of KMS: the AppAuth options on chain, app_id + nonce for
// PHALA. Normalizes them.
absl::Status ValidateDeployKmsFields(v1::DeployCvmRequest& r, bool onchain) {
  if (!r.app_owner_address().empty()) {
    if (!onchain) return Bad("app_owner_address", "only for an on-chain KMS");
    absl::StatusOr<std::string> a = NormalizeAddress("app_owner_address", r.app_owner_address());
    if (!a.ok()) return a.status();
    r.set_app_owner_address(*a);
  }
  if (!r.device_id().empty()) {
    if (!onchain) return Bad("device_id", "only for an on-chain KMS");
    absl::StatusOr<std::string> h = NormalizeHash("device_id", r.device_id(), false);
    if (!h.ok()) return h.status();
    r.set_device_id(*h);
  }
  if (onchain && (r.has_nonce() || !r.app_id().empty())) {
    return Bad(r.has_nonce() ? "nonce" : "app_id", "only for the PHALA KMS");
  }
  if (!r.app_id().empty()) {
    absl::StatusOr<chain::Address> a = cloudapi::ParseAppId(r.app_id());
    if (!a.ok()) return Bad("app_id", "want 40 hex digits (0x optional)");
    r.set_app_id(cloudapi::wire::HexOf(*a));  // the API's form, as the journal has always held it
    if (!r.has_nonce()) return Bad("nonce", "required with app_id");
  } else if (r.has_nonce()) {
    return Bad("app_id", "required with nonce");
  }
  if (!onchain && (r.allow_any_device() || r.disable_upgrades() || r.has_require_tcb_up_to_date())) {
    return Bad("kms_type", "allow_any_device, disable_upgrades and require_tcb_up_to_date need an on-chain KMS");
  }
  return absl::OkStatus();
}

// ReadinessWait: a timeout only with enabled, within (0, 24 h]; 0 or unset means the default.
absl::Status ValidateReadinessWait(const v1::ReadinessWait& w) {
  if (!w.has_timeout()) return absl::OkStatus();
  constexpr char kField[] = "wait_until_running.timeout";
  const google::protobuf::Duration& d = w.timeout();
  if (d.nanos() < -999999999 || d.nanos() > 999999999 || (d.seconds() > 0 && d.nanos() < 0) ||
      (d.seconds() < 0 && d.nanos() > 0)) {
    return Bad(kField, "not a valid duration");
  }
  if (d.seconds() < 0 || d.nanos() < 0) return Bad(kField, "must not be negative");
  if (absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos()) > kMaxReadinessTimeout) {
    return Bad(kField, "at most 24h");
  }
  if (!w.enabled() && (d.seconds() != 0 || d.nanos() != 0)) return Bad(kField, "only with enabled: true");
  return absl::OkStatus();
}

absl::StatusOr<v1::DeployCvmRequest> ValidateDeploy(const v1::DeployCvmRequest& in, const ValidationContext& ctx,
                                                    std::optional<chain::Address>* signer_key) {
  v1::DeployCvmRequest r = in;
  RETURN_IF_ERROR(ValidateRequestId(r.request_id()));
  RETURN_IF_ERROR(ValidateReadinessWait(r.wait_until_running()));
  if (r.name().empty()) return Bad("name", "required");
  if (!ValidCvmName(r.name())) {
    return Bad("name", "5-63 characters, starting with a letter, letters/digits/hyphens, no \"--\"");
  }
  if (!r.has_compose()) return Bad("compose", "required");
  RETURN_IF_ERROR(ValidateCompose(r.compose(), "compose", /*require_docker=*/true));
  RETURN_IF_ERROR(ValidateEnvVars(r.env_vars(), "env_vars"));
  if (r.compose().allowed_envs_size() > 0) {
    std::set<std::string> allowed(r.compose().allowed_envs().begin(), r.compose().allowed_envs().end());
    for (int i = 0; i < r.env_vars_size(); ++i) {
      if (allowed.count(r.env_vars(i).key()) == 0) {
        return Bad(absl::StrCat("env_vars[", i, "].key"),
                   absl::StrCat(r.env_vars(i).key(), " is not in compose.allowed_envs"));
      }
    }
  }
  const v1::KmsType t = r.kms_type();
  if (t == v1::KMS_TYPE_UNSPECIFIED || !v1::KmsType_IsValid(t))
    return Bad("kms_type", "required (PHALA, ETHEREUM or BASE)");
  const bool onchain = t != v1::KMS_TYPE_PHALA;
  RETURN_IF_ERROR(ValidateDeployKms(r, ctx, onchain));
  if (r.instance_type().size() > 64 || !PrintableAscii(r.instance_type()))
    return Bad("instance_type", "not an instance type");
  if (r.image().size() > 128 || !PrintableAscii(r.image())) return Bad("image", "not an image name");
  if (r.region().size() > 64 || !PrintableAscii(r.region())) return Bad("region", "not a region");
  if (r.vcpu() > 1024) return Bad("vcpu", "too large");
  if (r.memory_mb() > 16 * 1024 * 1024) return Bad("memory_mb", "too large");
  if (r.disk_size_gb() > 1024 * 1024) return Bad("disk_size_gb", "too large");
  RETURN_IF_ERROR(ValidateDeployKmsFields(r, onchain));
  ASSIGN_OR_RETURN(*signer_key, ResolveSigner(r.signer_key_address(), ctx));
  if (onchain && !signer_key->has_value()) {
    return Bad("signer_key_address", "required for an on-chain KMS (no default_signer_key_address is configured)");
  }
  if (!r.signer_key_address().empty()) r.set_signer_key_address((*signer_key)->Checksummed());
  if (!onchain) signer_key->reset();
  return r;
}

absl::StatusOr<v1::UpdateEnvVarsRequest> ValidateUpdateEnvVars(const v1::UpdateEnvVarsRequest& in,
                                                               const ValidationContext& ctx,
                                                               std::optional<chain::Address>* signer_key) {
  v1::UpdateEnvVarsRequest r = in;
  RETURN_IF_ERROR(ValidateRequestId(r.request_id()));
  RETURN_IF_ERROR(ValidateCvmId(r.cvm_id()));
  RETURN_IF_ERROR(ValidateReadinessWait(r.wait_until_running()));
  RETURN_IF_ERROR(ValidateEnvVars(r.env_vars(), "env_vars"));
  ASSIGN_OR_RETURN(*signer_key, ResolveSigner(r.signer_key_address(), ctx));
  if (!r.signer_key_address().empty()) r.set_signer_key_address((*signer_key)->Checksummed());
  return r;
}

absl::StatusOr<v1::UpdateDockerComposeRequest> ValidateUpdateDockerCompose(const v1::UpdateDockerComposeRequest& in,
                                                                           const ValidationContext& ctx,
                                                                           std::optional<chain::Address>* signer_key) {
  v1::UpdateDockerComposeRequest r = in;
  RETURN_IF_ERROR(ValidateRequestId(r.request_id()));
  RETURN_IF_ERROR(ValidateCvmId(r.cvm_id()));
  RETURN_IF_ERROR(ValidateReadinessWait(r.wait_until_running()));
  if (r.docker_compose_file().empty()) return Bad("docker_compose_file", "required");
  if (r.docker_compose_file().size() > kMaxComposePayload) return Bad("docker_compose_file", "larger than 200 KiB");
  if (!ValidUtf8(r.docker_compose_file())) return Bad("docker_compose_file", "not valid UTF-8");
  ASSIGN_OR_RETURN(*signer_key, ResolveSigner(r.signer_key_address(), ctx));
  if (!r.signer_key_address().empty()) r.set_signer_key_address((*signer_key)->Checksummed());
  return r;
}

absl::StatusOr<v1::UpdateComposeFileRequest> ValidateUpdateComposeFile(const v1::UpdateComposeFileRequest& in,
                                                                       const ValidationContext& ctx,
                                                                       std::optional<chain::Address>* signer_key) {
  v1::UpdateComposeFileRequest r = in;
  RETURN_IF_ERROR(ValidateRequestId(r.request_id()));
  RETURN_IF_ERROR(ValidateCvmId(r.cvm_id()));
  RETURN_IF_ERROR(ValidateReadinessWait(r.wait_until_running()));
  RETURN_IF_ERROR(ValidateCompose(r.compose(), "compose", /*require_docker=*/false));
  static const std::set<std::string> kFields = {"name",
                                                "docker_compose_file",
                                                "pre_launch_script",
                                                "allowed_envs",
                                                "kms_enabled",
                                                "gateway_enabled",
                                                "public_logs",
                                                "public_sysinfo",
                                                "public_tcbinfo",
                                                "local_key_provider_enabled",
                                                "key_provider_id",
                                                "no_instance_id",
                                                "secure_time",
                                                "storage_fs",
                                                "features",
                                                "manifest_version",
                                                "runner"};
  std::set<std::string> seen;
  for (int i = 0; i < r.update_mask().paths_size(); ++i) {
    const std::string& p = r.update_mask().paths(i);
    if (kFields.count(p) == 0)
      return Bad(absl::StrCat("update_mask.paths[", i, "]"), absl::StrCat("unknown AppCompose field '", p, "'"));
    if (!seen.insert(p).second)
      return Bad(absl::StrCat("update_mask.paths[", i, "]"), absl::StrCat("duplicate '", p, "'"));
  }
  if (seen.count("docker_compose_file") > 0 && r.compose().docker_compose_file().empty()) {
    return Bad("compose.docker_compose_file", "cannot be cleared");
  }
  if (r.update_mask().paths_size() == 0 && !r.update_env_vars()) {
    // Nothing set in compose would be an empty update.
    v1::AppCompose empty;
    if (r.compose().SerializeAsString() == empty.SerializeAsString()) return Bad("compose", "nothing to update");
  }
  if (!r.update_env_vars() && r.env_vars_size() > 0) return Bad("env_vars", "only with update_env_vars");
  RETURN_IF_ERROR(ValidateEnvVars(r.env_vars(), "env_vars"));
  ASSIGN_OR_RETURN(*signer_key, ResolveSigner(r.signer_key_address(), ctx));
  if (!r.signer_key_address().empty()) r.set_signer_key_address((*signer_key)->Checksummed());
  return r;
}

namespace {

// The `target` oneof of AddComposeHash, UpdateAppContract and GetAppState: a CVM, or a chain the
// orchestrator serves plus an app contract (normalized to EIP-55).
template <typename Request>
absl::Status ValidateAppTarget(Request& r, const ValidationContext& ctx) {
  switch (r.target_case()) {
    case Request::kCvmId:
      return ValidateCvmId(r.cvm_id());
    case Request::kApp: {
      if (r.app().chain_id() == 0) return Bad("app.chain_id", "required");
      if (ctx.chains.count(r.app().chain_id()) == 0) {
        return Bad("app.chain_id", absl::StrCat("chain ", r.app().chain_id(), " is not configured"));
      }
      if (r.app().app_contract_address().empty()) return Bad("app.app_contract_address", "required");
      ASSIGN_OR_RETURN(std::string a, NormalizeAddress("app.app_contract_address", r.app().app_contract_address()));
      r.mutable_app()->set_app_contract_address(a);
      return absl::OkStatus();
    }
    default:
      return Bad("target", "required: cvm_id or app");
  }
}

// The request's signer key or the default one (required), normalized into the request.
template <typename Request>
absl::Status RequireSigner(Request& r, const ValidationContext& ctx, std::optional<chain::Address>* signer_key) {
  ASSIGN_OR_RETURN(*signer_key, ResolveSigner(r.signer_key_address(), ctx));
  if (!signer_key->has_value()) {
    return Bad("signer_key_address", "required (no default_signer_key_address is configured)");
  }
  if (!r.signer_key_address().empty()) r.set_signer_key_address((*signer_key)->Checksummed());
  return absl::OkStatus();
}

// AddDevice.device / RemoveDevice.device: a non-zero device id (normalized) or a node id.
template <typename Device>
absl::Status ValidateDevice(absl::string_view field, Device& d) {
  switch (d.device_case()) {
    case Device::kDeviceId: {
      const std::string f = absl::StrCat(field, ".device_id");
      ASSIGN_OR_RETURN(std::string h, NormalizeHash(f, d.device_id(), /*nonzero=*/true));
      d.set_device_id(h);
      return absl::OkStatus();
    }
    case Device::kNodeId:
      if (d.node_id() == 0) return Bad(absl::StrCat(field, ".node_id"), "must not be 0");
      return absl::OkStatus();
    default:
      return Bad(absl::StrCat(field, ".device"), "required: device_id or node_id");
  }
}

absl::Status ValidateAppChange(v1::UpdateAppContractRequest& r) {
  switch (r.change_case()) {
    case v1::UpdateAppContractRequest::kAddDevice:
      return ValidateDevice("add_device", *r.mutable_add_device());
    case v1::UpdateAppContractRequest::kRemoveDevice:
      return ValidateDevice("remove_device", *r.mutable_remove_device());
    case v1::UpdateAppContractRequest::kSetAllowAnyDevice:
    case v1::UpdateAppContractRequest::kAcceptOwnership:
      return absl::OkStatus();
    case v1::UpdateAppContractRequest::kTransferOwnership: {
      v1::TransferOwnership& t = *r.mutable_transfer_ownership();
      if (t.new_owner().empty()) return Bad("transfer_ownership.new_owner", "required");
      ASSIGN_OR_RETURN(std::string a, NormalizeAddress("transfer_ownership.new_owner", t.new_owner()));
      t.set_new_owner(a);
      if (!t.confirm()) {
        return Bad("transfer_ownership.confirm",
                   "must be true: the sender cannot take back a transfer that took effect");
      }
      return absl::OkStatus();
    }
    case v1::UpdateAppContractRequest::kDisableUpgrades:
      if (!r.disable_upgrades().confirm()) {
        return Bad("disable_upgrades.confirm", "must be true: disabling upgrades cannot be undone");
      }
      return absl::OkStatus();
    default:
      return Bad("change",
                 "required: add_device, remove_device, set_allow_any_device, transfer_ownership, "
                 "accept_ownership or disable_upgrades");
  }
}

}  // namespace

absl::StatusOr<v1::AddComposeHashRequest> ValidateAddComposeHash(const v1::AddComposeHashRequest& in,
                                                                 const ValidationContext& ctx,
                                                                 std::optional<chain::Address>* signer_key) {
  v1::AddComposeHashRequest r = in;
  RETURN_IF_ERROR(ValidateRequestId(r.request_id()));
  RETURN_IF_ERROR(ValidateAppTarget(r, ctx));
  if (r.compose_hash().empty()) return Bad("compose_hash", "required");
  absl::StatusOr<std::string> h = NormalizeHash("compose_hash", r.compose_hash(), true);
  if (!h.ok()) return h.status();
  r.set_compose_hash(*h);
  RETURN_IF_ERROR(RequireSigner(r, ctx, signer_key));
  return r;
}

absl::StatusOr<v1::UpdateAppContractRequest> ValidateUpdateAppContract(const v1::UpdateAppContractRequest& in,
                                                                       const ValidationContext& ctx,
                                                                       std::optional<chain::Address>* signer_key) {
  v1::UpdateAppContractRequest r = in;
  RETURN_IF_ERROR(ValidateRequestId(r.request_id()));
  RETURN_IF_ERROR(ValidateAppTarget(r, ctx));
  RETURN_IF_ERROR(ValidateAppChange(r));
  RETURN_IF_ERROR(RequireSigner(r, ctx, signer_key));
  return r;
}

absl::StatusOr<v1::GetAppStateRequest> ValidateGetAppState(const v1::GetAppStateRequest& in,
                                                           const ValidationContext& ctx) {
  v1::GetAppStateRequest r = in;
  RETURN_IF_ERROR(ValidateAppTarget(r, ctx));
  auto hashes = [](absl::string_view field, google::protobuf::RepeatedPtrField<std::string>& values) -> absl::Status {
    if (values.size() > static_cast<int>(kMaxAppStateQueries)) {
      return Bad(field, absl::StrCat("at most ", kMaxAppStateQueries, " values"));
    }
    for (int i = 0; i < values.size(); ++i) {
      ASSIGN_OR_RETURN(std::string h, NormalizeHash(absl::StrCat(field, "[", i, "]"), values[i], /*nonzero=*/false));
      values[i] = h;
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(hashes("device_ids", *r.mutable_device_ids()));
  RETURN_IF_ERROR(hashes("compose_hashes", *r.mutable_compose_hashes()));
  return r;
}

std::string StrippedRequest(const google::protobuf::Message& normalized) {
  std::unique_ptr<google::protobuf::Message> m(normalized.New());
  m->CopyFrom(normalized);
  ClearEnvValues(*m);
  return Deterministic(*m);
}

std::string RequestDigest(v1::OperationKind kind, const google::protobuf::Message& normalized) {
  const std::string body = absl::StrCat(v1::OperationKind_Name(kind), "\n", StrippedRequest(normalized));
  const crypto::Sha256Digest d = crypto::Sha256(absl::string_view(body));
  return chain::ToHex(chain::ByteView(d.data(), d.size()), false);
}

}  // namespace orchestrator::service
