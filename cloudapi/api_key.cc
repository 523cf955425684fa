#include "cloudapi/api_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crypto/secure_wipe.h"
#include "platform/secret_file_permissions.h"

namespace cloudapi {
namespace {

constexpr size_t kMaxKeyBytes = 4096;

crypto::ByteView AsBytes(absl::string_view s) {
  return crypto::ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

absl::StatusOr<ApiKey> ApiKey::FromString(absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("api key: empty");
  if (key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("api key: longer than ", kMaxKeyBytes, " bytes"));
  }
  for (size_t i = 0; i < key.size(); ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat("api key: character ", i + 1, " is not visible ASCII (whitespace or control)"));
    }
  }
  return ApiKey(crypto::SecretBytes(AsBytes(key)));
}

absl::StatusOr<ApiKey> ApiKey::FromFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat("api key file ", path, ": not found"));
    if (err == EACCES) {
      return absl::PermissionDeniedError(absl::StrCat("api key file ", path, ": not readable"));
    }
    return absl::FailedPreconditionError(absl::StrCat("api key file ", path, ": ", std::strerror(err)));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (absl::Status checked = platform::CheckSecretFile(fd, absl::StrCat("api key file ", path), path, &st);
      !checked.ok()) {
    return checked;
  }
  if (st.st_size > static_cast<off_t>(kMaxKeyBytes + 64)) {
    return absl::InvalidArgumentError(absl::StrCat("api key file ", path, ": too large"));
  }
  crypto::SecretBytes buf(kMaxKeyBytes + 65);
  size_t len = 0;
  while (len < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + len, buf.size() - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::FailedPreconditionError(absl::StrCat("api key file ", path, ": read failed"));
    }
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  if (len == buf.size()) {
    return absl::InvalidArgumentError(absl::StrCat("api key file ", path, ": too large"));
  }
  absl::string_view text(reinterpret_cast<const char*>(buf.data()), len);
  absl::StatusOr<ApiKey> key = FromString(absl::StripAsciiWhitespace(text));
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("api key file ", path, ": ", key.status().message()));
  }
  return key;
}

absl::StatusOr<ApiKey> ApiKey::FromEnvironment() {
  if (const char* file = std::getenv("PHALA_CLOUD_API_KEY_FILE"); file != nullptr && *file != 0) {
    return FromFile(file);
  }
  if (const char* key = std::getenv("PHALA_CLOUD_API_KEY"); key != nullptr && *key != 0) {
    absl::StatusOr<ApiKey> k = FromString(key);
    crypto::WipeEnvironmentVariable("PHALA_CLOUD_API_KEY");  // neither environ nor a child sees it
    if (!k.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("PHALA_CLOUD_API_KEY: ", k.status().message()));
    }
    return k;
  }
  return absl::FailedPreconditionError("no phala cloud api key: set PHALA_CLOUD_API_KEY or PHALA_CLOUD_API_KEY_FILE");
}

ApiKey ApiKey::Clone() const { return ApiKey(bytes_.Clone()); }

}  // namespace cloudapi
