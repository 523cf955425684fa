// Dotenv text -> environment variables, with the semantics of @phala/cloud's parseEnvVars
// (dist/index.js `// src/parse_dotenv.ts`, facts/phala-cloud-api.md §8), quirks included:
// comments, blank lines, `export `, `KEY: value`, quotes ('...', "...", `...`, possibly spanning
// lines), `=` inside values, CRLF/CR, `#` starting a comment in unquoted values, "\n"/"\r" escapes
// in double quotes only, duplicates (last value, first position), array-index keys ("1", "20")
// enumerated first in ascending order as a JS object does, "__proto__" lost.
#ifndef ONCHAIN_KMS_CLOUDAPI_ENV_VARS_H_
#define ONCHAIN_KMS_CLOUDAPI_ENV_VARS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cloudapi {

struct EnvVar {
  std::string key;
  std::string value;  // a secret: never logged, never put into an error message

  friend bool operator==(const EnvVar&, const EnvVar&) = default;
};

// For every text it accepts, the result is exactly the SDK's. Where the SDK would silently lose
// something, this refuses with InvalidArgument naming the line (never the value):
//   "env line N: not a KEY=VALUE assignment (keys use letters, digits, '_', '.', '-')" for a
//   non-blank, non-comment line that no assignment covers (the SDK drops it), and
//   "env line N: key __proto__ cannot be used" (the SDK drops it too).
// Also InvalidArgument for text that is not valid UTF-8.
absl::StatusOr<std::vector<EnvVar>> ParseEnvVars(absl::string_view text);

// Exactly the SDK's parseEnvVars, silent drops included. Fails only on invalid UTF-8.
absl::StatusOr<std::vector<EnvVar>> ParseEnvVarsAsSdk(absl::string_view text);

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_ENV_VARS_H_
