#include "signer/keystore/password.h"

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "crypto/secure_wipe.h"
#include "signer/keystore/secret_file.h"

namespace signer::keystore {

absl::StatusOr<crypto::LockedBuffer> PasswordFromFile(const std::string& path) { return ReadSecretFile(path); }

absl::StatusOr<crypto::LockedBuffer> PasswordFromEnv(const std::string& name) {
  if (name.empty() || name.find('=') != std::string::npos) {
    return absl::InvalidArgumentError("password environment variable: bad name");
  }
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return absl::NotFoundError(absl::StrCat("environment variable ", name, " is not set"));
  const size_t n = std::strlen(value);
  if (n == 0) {
    crypto::WipeEnvironmentVariable(name.c_str());
    return absl::InvalidArgumentError(absl::StrCat("environment variable ", name, " is empty"));
  }
  absl::StatusOr<crypto::LockedBuffer> out = crypto::LockedBuffer::Allocate(n);
  if (out.ok()) std::memcpy(out->data(), value, n);
  crypto::WipeEnvironmentVariable(name.c_str());
  return out;
}

absl::StatusOr<crypto::LockedBuffer> ReadPassword(const onchainkms::signer::v1::PasswordSource& source,
                                                  const std::string& field) {
  absl::StatusOr<crypto::LockedBuffer> out = absl::InvalidArgumentError(absl::StrCat(field, ": set file or env_var"));
  if (source.has_file()) {
    out = PasswordFromFile(source.file());
  } else if (source.has_env_var()) {
    out = PasswordFromEnv(source.env_var());
  }
  if (!out.ok()) return absl::Status(out.status().code(), absl::StrCat(field, ": ", out.status().message()));
  return out;
}

}  // namespace signer::keystore
