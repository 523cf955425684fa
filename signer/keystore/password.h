// Where keystore passwords come from: a file (mode 0600 or stricter) or a named environment
// variable, which is wiped and removed from the environment once read. Never a command-line value.
#ifndef ONCHAIN_KMS_SIGNER_KEYSTORE_PASSWORD_H_
#define ONCHAIN_KMS_SIGNER_KEYSTORE_PASSWORD_H_

#include <string>

#include "absl/status/statusor.h"
#include "crypto/locked_buffer.h"
#include "onchainkms/signer/v1/config.pb.h"

namespace signer::keystore {

// The password from a file. See ReadSecretFile.
absl::StatusOr<crypto::LockedBuffer> PasswordFromFile(const std::string& path);

// The password from environment variable `name`; the variable's value is overwritten in place
// and the variable removed. NotFound if unset, InvalidArgument if empty.
absl::StatusOr<crypto::LockedBuffer> PasswordFromEnv(const std::string& name);

// Either of the above; `field` names the config field in errors ("password", "key_passwords[0]").
absl::StatusOr<crypto::LockedBuffer> ReadPassword(const onchainkms::signer::v1::PasswordSource& source,
                                                  const std::string& field);

}  // namespace signer::keystore

#endif  // ONCHAIN_KMS_SIGNER_KEYSTORE_PASSWORD_H_
