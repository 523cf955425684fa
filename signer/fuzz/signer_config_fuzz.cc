// The signer's two operator files: the policy (text proto or JSON, then compiled: selectors,
// ABI signatures, wei amounts, addresses) and the process config (then its listen section).
// Input: one byte choosing the file (bit 0: policy or config; bit 1: JSON or text proto), then
// the file's text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "onchainkms/signer/v1/config.pb.h"
#include "onchainkms/signer/v1/policy.pb.h"
#include "platform/config_file.h"
#include "platform/listen_flags.h"
#include "signer/policy/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string name = (data[0] & 2) != 0 ? "fuzz.json" : "fuzz.textproto";
  if ((data[0] & 1) == 0) {
    onchainkms::signer::v1::Policy policy;
    if (platform::ParseConfigText(text, name, &policy).ok()) (void)signer::policy::CompiledPolicy::Compile(policy);
    (void)signer::policy::ParseWei(text);
  } else {
    onchainkms::signer::v1::SignerConfig config;
    if (platform::ParseConfigText(text, name, &config).ok()) {
      (void)platform::ListenOptionsFromConfig(config.listen(), platform::ListenOptions{});
    }
  }
  return 0;
}
