// The bearer tokens file (name + SHA-256 digest lines) and the "authorization" metadata value a
// client sends. Invariant: a parsed file never names a caller for a token whose digest it does
// not list (an arbitrary header value is looked up against the parsed file).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "platform/transport/bearer_tokens.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<absl::string_view> token = platform::BearerTokens::FromAuthorizationHeader(text);
  absl::StatusOr<platform::BearerTokens> tokens = platform::BearerTokens::Parse(text);
  if (tokens.ok() && token.has_value()) (void)tokens->NameOf(*token);
  return 0;
}
