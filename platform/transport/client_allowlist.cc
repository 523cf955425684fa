#include "platform/transport/client_allowlist.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace platform {

absl::StatusOr<ClientAllowlist> ClientAllowlist::Create(const std::vector<std::string>& cert_sha256,
                                                        const std::vector<std::string>& names) {
  ClientAllowlist out;
  for (const std::string& fingerprint : cert_sha256) {
    std::string hex = absl::AsciiStrToLower(fingerprint);
    hex.erase(std::remove(hex.begin(), hex.end(), ':'), hex.end());
    if (hex.size() != 64 || !std::all_of(hex.begin(), hex.end(), absl::ascii_isxdigit)) {
      return absl::InvalidArgumentError(
          absl::StrCat("allowed_client_cert_sha256: bad fingerprint \"", fingerprint, "\""));
    }
    out.sha256_.insert(std::move(hex));
  }
  out.names_.insert(names.begin(), names.end());
  return out;
}

std::optional<std::string> ClientAllowlist::AllowedName(const std::vector<std::string>& names) const {
  for (const std::string& name : names) {
    if (names_.count(name) > 0) return name;
  }
  return std::nullopt;
}

bool ClientAllowlist::AllowsFingerprint(const std::string& cert_sha256) const {
  return !cert_sha256.empty() && sha256_.count(cert_sha256) > 0;
}

}  // namespace platform
