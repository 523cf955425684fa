// A PostgreSQL connection string (libpq key=value pairs or a postgresql:// URI), read from a file
// because it usually carries the password: never from argv or a config file's text. The password
// never leaves this object except towards libpq; `description()` (host, port, dbname, user) is
// what errors and logs name, and `Redact` removes the password from any text libpq produced.
#ifndef ONCHAIN_KMS_PLATFORM_POSTGRES_DSN_H_
#define ONCHAIN_KMS_PLATFORM_POSTGRES_DSN_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace platform::postgres {

class Dsn {
 public:
  // Reads `path` (a regular file of at most 4 KiB that passes platform::CheckSecretFile: it holds a
  // password; symlinks are followed).
  // Errors name the path, never the content.
  static absl::StatusOr<Dsn> FromFile(const std::string& path);
  // `source` names the text in errors (e.g. the file's path); the text itself is never quoted.
  static absl::StatusOr<Dsn> Parse(absl::string_view text, absl::string_view source);

  // "host=... port=... dbname=... user=...", the parts present; never the password.
  const std::string& description() const { return description_; }
  // `text` with every occurrence of the password replaced by "<redacted>".
  std::string Redact(absl::string_view text) const;

  // Every keyword the string set (password included), for PQconnectdbParams.
  const std::vector<std::pair<std::string, std::string>>& options() const { return options_; }

 private:
  Dsn(std::vector<std::pair<std::string, std::string>> options, std::string description, std::string password)
      : options_(std::move(options)), description_(std::move(description)), password_(std::move(password)) {}

  std::vector<std::pair<std::string, std::string>> options_;
  std::string description_;
  std::string password_;
};

}  // namespace platform::postgres

#endif  // ONCHAIN_KMS_PLATFORM_POSTGRES_DSN_H_
