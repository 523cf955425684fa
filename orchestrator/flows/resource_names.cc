#include "orchestrator/flows/resource_names.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "chain/hex.h"
#include "platform/status_macros.h"

namespace orchestrator::flows {
namespace {

bool IsHex(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isxdigit(c); });
}

bool IsUuidWithDashes(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !absl::ascii_isxdigit(s[i])) return false;
  }
  return true;
}

std::string LowerHex(const chain::Address& a) { return chain::ToHex(a.bytes(), /*prefix=*/false); }

}  // namespace

absl::StatusOr<cloudapi::CvmRef> CvmRefFor(absl::string_view cvm_id) {
  if (absl::StartsWith(cvm_id, "app_")) return cloudapi::CvmRef::AppId(cvm_id.substr(4));
  if (absl::StartsWith(cvm_id, "instance_")) return cloudapi::CvmRef::InstanceId(cvm_id.substr(9));
  absl::string_view bare = cvm_id;
  const bool prefixed = absl::ConsumePrefix(&bare, "0x") || absl::ConsumePrefix(&bare, "0X");
  if (bare.size() == 40 && IsHex(bare)) return cloudapi::CvmRef::AppId(bare);
  if (prefixed) return absl::InvalidArgumentError("cvm_id: an app id is 0x + 40 hex digits");
  if (IsUuidWithDashes(cvm_id)) return cloudapi::CvmRef::Uuid(cvm_id);
  return cloudapi::CvmRef::Id(cvm_id);
}

absl::StatusOr<std::string> CvmResource(absl::string_view cvm_id) {
  absl::StatusOr<cloudapi::CvmRef> ref = CvmRefFor(cvm_id);
  if (!ref.ok()) {
    if (absl::StartsWith(ref.status().message(), "cvm_id:")) return ref.status();
    return absl::InvalidArgumentError(absl::StrCat("cvm_id: ", ref.status().message()));
  }
  const std::string& segment = ref->path_segment();
  // The API's hashed uuid, however the caller cased it.
  if (segment.size() == 32 && IsHex(segment)) return absl::AsciiStrToLower(segment);
  return segment;
}

std::string CvmResourceOfApp(const chain::Address& app) { return absl::StrCat("app_", LowerHex(app)); }

std::string OnchainAppResource(uint64_t chain_id, const chain::Address& app) {
  return absl::StrCat(chain_id, ":0x", LowerHex(app));
}

std::string PhalaAppResource(const chain::Address& app_id) { return LowerHex(app_id); }

absl::Status CvmNotInScope(absl::string_view cvm_id) {
  return absl::NotFoundError(absl::StrCat("cvm_id: no CVM ", cvm_id, " in your scope (an admin can adopt it)"));
}

absl::Status AppNotInScope(uint64_t chain_id, absl::string_view app_address) {
  return absl::NotFoundError(
      absl::StrCat("app: no app ", app_address, " on chain ", chain_id, " in your scope (an admin can adopt it)"));
}

}  // namespace orchestrator::flows
