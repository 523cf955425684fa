// The Phala Cloud API key: held in memory that is wiped on destruction, never printed, never
// put into a status message. Read from the environment variable the SDK reads
// (PHALA_CLOUD_API_KEY) or from a key file only its owner can read.
#ifndef ONCHAIN_KMS_CLOUDAPI_API_KEY_H_
#define ONCHAIN_KMS_CLOUDAPI_API_KEY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/secret_bytes.h"

namespace cloudapi {

class ApiKey {
 public:
  // An empty key (no X-API-Key header is sent; every API call then fails UNAUTHENTICATED).
  ApiKey() = default;

  // 1..4096 visible ASCII characters (no spaces, no control characters: the key goes into an
  // HTTP header). InvalidArgument otherwise; the message never contains the key.
  static absl::StatusOr<ApiKey> FromString(absl::string_view key);

  // The file's content with surrounding ASCII whitespace (a trailing newline) removed. The file
  // (symlinks followed) must be a regular file of at most 4 KiB that passes
  // platform::CheckSecretFile (ours and 0600/0400, or root's, our group's and 0440/0640):
  // FailedPrecondition otherwise, naming the path, owner and mode. NotFound if it does not exist.
  static absl::StatusOr<ApiKey> FromFile(const std::string& path);

  // PHALA_CLOUD_API_KEY_FILE (our addition, for mounted secrets) if set, else
  // PHALA_CLOUD_API_KEY (the SDK's variable). FailedPrecondition when neither is set.
  static absl::StatusOr<ApiKey> FromEnvironment();

  ApiKey(ApiKey&&) noexcept = default;
  ApiKey& operator=(ApiKey&&) noexcept = default;
  ApiKey Clone() const;

  bool empty() const { return bytes_.empty(); }
  // For the X-API-Key header and for redaction. Never log it.
  absl::string_view value() const {
    return absl::string_view(reinterpret_cast<const char*>(bytes_.data()), bytes_.size());
  }

 private:
  explicit ApiKey(crypto::SecretBytes bytes) : bytes_(std::move(bytes)) {}
  crypto::SecretBytes bytes_;
};

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_API_KEY_H_
