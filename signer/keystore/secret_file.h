// Files that hold or guard secrets: reading with the permission check of
// platform/secret_file_permissions.h (ours and 0600/0400, or root's, our group's and 0440/0640),
// and writing atomically with mode 0600 (temp file + fsync + rename + fsync of
// the directory), so a crash never leaves a half-written key file.
#ifndef ONCHAIN_KMS_SIGNER_KEYSTORE_SECRET_FILE_H_
#define ONCHAIN_KMS_SIGNER_KEYSTORE_SECRET_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/locked_buffer.h"

namespace signer::keystore {

// Reads a regular file of at most `max_bytes`, following symlinks. FailedPrecondition if it is
// not a regular file or fails platform::CheckSecretFile's rule; NotFound if it cannot be opened.
// The check is made on the opened descriptor (no race with a rename).
absl::StatusOr<std::string> ReadPrivateFile(const std::string& path, size_t max_bytes);

// Same, into locked memory (for a password file), with one trailing "\n" or "\r\n" removed.
// An empty result is InvalidArgument.
absl::StatusOr<crypto::LockedBuffer> ReadSecretFile(const std::string& path);

// Writes `content` to dir/name with mode 0600 atomically. AlreadyExists if dir/name exists.
absl::Status WritePrivateFileAtomically(const std::string& dir, const std::string& name, absl::string_view content);

}  // namespace signer::keystore

#endif  // ONCHAIN_KMS_SIGNER_KEYSTORE_SECRET_FILE_H_
