#include "platform/postgres/dsn.h"

#include <fcntl.h>
#include <postgresql/libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "platform/secret_file_permissions.h"

namespace platform::postgres {
namespace {

constexpr size_t kMaxFileBytes = 4096;

// The file's content, refused unless platform/secret_file_permissions.h's rule holds (it holds a password).
absl::StatusOr<std::string> ReadDsnFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("DSN file ", path, ": cannot open: ", std::strerror(errno)));
  struct stat st {};
  absl::Status refused = platform::CheckSecretFile(fd, absl::StrCat("DSN file ", path), path, &st);
  if (refused.ok() && static_cast<size_t>(st.st_size) > kMaxFileBytes) {
    refused = absl::InvalidArgumentError(absl::StrCat("DSN file ", path, ": larger than ", kMaxFileBytes, " bytes"));
  }
  std::string content(refused.ok() ? static_cast<size_t>(st.st_size) : 0, '\0');
  const ssize_t n = refused.ok() ? ::read(fd, content.data(), content.size()) : 0;
  ::close(fd);
  if (!refused.ok()) return refused;
  if (n < 0) return absl::InternalError(absl::StrCat("DSN file ", path, ": read: ", std::strerror(errno)));
  content.resize(static_cast<size_t>(n));
  return content;
}

}  // namespace

absl::StatusOr<Dsn> Dsn::FromFile(const std::string& path) {
  absl::StatusOr<std::string> content = ReadDsnFile(path);
  if (!content.ok()) return content.status();
  return Parse(*content, absl::StrCat("DSN file ", path));
}

absl::StatusOr<Dsn> Dsn::Parse(absl::string_view text, absl::string_view source) {
  const std::string trimmed(absl::StripAsciiWhitespace(text));
  if (trimmed.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": empty connection string"));
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(trimmed.c_str(), &error);
  // libpq's message quotes the text around the mistake, which may be the password: drop it.
  PQfreemem(error);
  if (parsed == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a valid PostgreSQL connection string (key=value pairs or a postgresql:// URI)"));
  }
  std::vector<std::pair<std::string, std::string>> options;
  for (const PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) options.emplace_back(o->keyword, o->val);
  }
  PQconninfoFree(parsed);
  std::vector<std::string> described;
  for (absl::string_view keyword : {"host", "hostaddr", "port", "dbname", "user"}) {
    for (const auto& [k, v] : options) {
      if (k == keyword) described.push_back(absl::StrCat(k, "=", v));
    }
  }
  std::string password;
  for (const auto& [k, v] : options) {
    if (k == "password") password = v;
  }
  return Dsn(std::move(options), absl::StrJoin(described, " "), std::move(password));
}

std::string Dsn::Redact(absl::string_view text) const {
  if (password_.empty()) return std::string(text);
  return absl::StrReplaceAll(text, {{password_, "<redacted>"}});
}

}  // namespace platform::postgres
