// Dotenv text a user hands to the orchestrator (env values for a CVM). Invariant: whatever the
// strict reader accepts, it reads exactly as the SDK's parseEnvVars does.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "cloudapi/env_vars.h"
#include "tools/fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<cloudapi::EnvVar>> strict = cloudapi::ParseEnvVars(text);
  absl::StatusOr<std::vector<cloudapi::EnvVar>> sdk = cloudapi::ParseEnvVarsAsSdk(text);
  if (strict.ok()) FUZZ_CHECK(sdk.ok() && *sdk == *strict);
  return 0;
}
