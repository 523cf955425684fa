// The orchestrator's config file (text proto, or JSON when the name ends in .json) and its
// listen section. Input: one byte (bit 1: JSON), then the file's text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "onchainkms/orchestrator/v1/config.pb.h"
#include "platform/config_file.h"
#include "platform/listen_flags.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string name = (data[0] & 2) != 0 ? "fuzz.json" : "fuzz.textproto";
  onchainkms::orchestrator::v1::OrchestratorConfig config;
  if (platform::ParseConfigText(text, name, &config).ok()) {
    (void)platform::ListenOptionsFromConfig(config.listen(), platform::ListenOptions{});
  }
  return 0;
}
