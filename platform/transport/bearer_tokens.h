// The bearer tokens a TLS listener accepts ("authorization: Bearer <token>"), from a file of
//
//   # '#' starts a comment
//   <name> <lowercase hex SHA-256 of the token>
//
// Only digests are kept, so neither the file nor memory holds a token; a caller presenting one
// is known by its name (platform::Caller "token:<name>").
#ifndef ONCHAIN_KMS_PLATFORM_TRANSPORT_BEARER_TOKENS_H_
#define ONCHAIN_KMS_PLATFORM_TRANSPORT_BEARER_TOKENS_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace platform {

class BearerTokens {
 public:
  BearerTokens() = default;

  // INVALID_ARGUMENT naming the line for a malformed one (never echoing its content).
  static absl::StatusOr<BearerTokens> Parse(absl::string_view text);
  // Parse() of a file; INVALID_ARGUMENT when it cannot be read.
  static absl::StatusOr<BearerTokens> Load(const std::string& path);

  // The name `token` is listed under, if any.
  std::optional<std::string> NameOf(absl::string_view token) const;
  // The token of an "authorization" metadata value ("Bearer <token>" or "bearer <token>").
  static std::optional<absl::string_view> FromAuthorizationHeader(absl::string_view value);

  bool empty() const { return names_.empty(); }
  size_t size() const { return names_.size(); }

 private:
  std::map<std::string, std::string> names_;  // lowercase hex SHA-256 -> name
};

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_TRANSPORT_BEARER_TOKENS_H_
