// The minimum log level of a service: its config file's `log_level` field, overridden by
// --log_level. Both binaries call ApplyLogLevel once at start-up, after loading the config file.
#ifndef ONCHAIN_KMS_PLATFORM_LOG_LEVEL_FLAG_H_
#define ONCHAIN_KMS_PLATFORM_LOG_LEVEL_FLAG_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace platform::log {

// Sets the minimum level from --log_level if given, else from `config_value` (the config file's
// log_level; empty means the default, info). INVALID_ARGUMENT naming the flag or the field if the
// value is not debug, info, warn or error.
absl::Status ApplyLogLevel(absl::string_view config_value);

}  // namespace platform::log

#endif  // ONCHAIN_KMS_PLATFORM_LOG_LEVEL_FLAG_H_
