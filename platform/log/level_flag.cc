#include "platform/log/level_flag.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "platform/log/log.h"

ABSL_FLAG(std::string, log_level, "",
          "minimum level of the JSON log lines on stderr: debug, info, warn or error (overrides log_level; "
          "default info)");

namespace platform::log {

absl::Status ApplyLogLevel(absl::string_view config_value) {
  const std::string flag = absl::GetFlag(FLAGS_log_level);
  const bool from_flag = !flag.empty();
  const absl::string_view name = from_flag ? absl::string_view(flag) : config_value;
  if (name.empty()) {
    SetMinLevel(Level::kInfo);
    return absl::OkStatus();
  }
  absl::StatusOr<Level> level = ParseLevel(name);
  if (!level.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(from_flag ? "--log_level: " : "log_level: ", level.status().message()));
  }
  SetMinLevel(*level);
  return absl::OkStatus();
}

}  // namespace platform::log
