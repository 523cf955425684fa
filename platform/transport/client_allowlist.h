// The TLS client certificates a listener admits: by the SHA-256 of the DER certificate (hex in
// any case, with or without the colons `openssl x509 -fingerprint -sha256` prints) or by a
// subject common name / subject alternative name.
#ifndef ONCHAIN_KMS_PLATFORM_TRANSPORT_CLIENT_ALLOWLIST_H_
#define ONCHAIN_KMS_PLATFORM_TRANSPORT_CLIENT_ALLOWLIST_H_

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace platform {

class ClientAllowlist {
 public:
  ClientAllowlist() = default;

  // INVALID_ARGUMENT for a fingerprint that is not 32 bytes of hex.
  static absl::StatusOr<ClientAllowlist> Create(const std::vector<std::string>& cert_sha256,
                                                const std::vector<std::string>& names);

  // The first of `names` on the list, if any.
  std::optional<std::string> AllowedName(const std::vector<std::string>& names) const;
  // True if `cert_sha256` (lowercase hex) is on the list.
  bool AllowsFingerprint(const std::string& cert_sha256) const;

  bool empty() const { return sha256_.empty() && names_.empty(); }

 private:
  std::set<std::string> sha256_;  // lowercase hex, no colons
  std::set<std::string> names_;
};

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_TRANSPORT_CLIENT_ALLOWLIST_H_
