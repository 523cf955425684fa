#include "platform/transport/bearer_tokens.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "crypto/sha256.h"

namespace platform {
namespace {

bool IsLowerHex64(absl::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); });
}

}  // namespace

absl::StatusOr<BearerTokens> BearerTokens::Parse(absl::string_view text) {
  BearerTokens out;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++n;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() != 2 || !IsLowerHex64(parts[1])) {
      return absl::InvalidArgumentError(
          absl::StrCat("bearer tokens file line ", n, ": want \"<name> <lowercase hex sha256 of the token>\""));
    }
    out.names_[std::string(parts[1])] = std::string(parts[0]);
  }
  return out;
}

absl::StatusOr<BearerTokens> BearerTokens::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("bearer_tokens_file ", path, ": cannot read"));
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

std::optional<std::string> BearerTokens::NameOf(absl::string_view token) const {
  const crypto::Sha256Digest digest = crypto::Sha256(token);
  auto it = names_.find(
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size())));
  if (it == names_.end()) return std::nullopt;
  return it->second;
}

std::optional<absl::string_view> BearerTokens::FromAuthorizationHeader(absl::string_view value) {
  if (!absl::ConsumePrefix(&value, "Bearer ") && !absl::ConsumePrefix(&value, "bearer ")) return std::nullopt;
  return absl::StripAsciiWhitespace(value);
}

}  // namespace platform
