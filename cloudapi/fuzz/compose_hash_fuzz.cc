// An app-compose document (from a caller, or from Phala Cloud's answer) through the compose-hash
// serializer in all three forms, and JSON as JavaScript reads and writes it. Invariants:
// stringify(parse(x)) is a fixed point (parsing it again and stringifying gives the same text),
// and a document that hashes hashes the same after that round trip.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "cloudapi/compose_hash.h"
#include "cloudapi/js_json.h"
#include "tools/fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<boost::json::value> v = cloudapi::ParseJsonLikeJs(text);
  if (!v.ok()) return 0;
  absl::StatusOr<std::string> once = cloudapi::StringifyLikeJs(*v);
  FUZZ_CHECK(once.ok());
  absl::StatusOr<boost::json::value> again = cloudapi::ParseJsonLikeJs(*once);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(cloudapi::StringifyLikeJs(*again).value() == *once);
  (void)cloudapi::StringifyLikeJs(*v, 2);
  for (cloudapi::ComposeHashForm form :
       {cloudapi::ComposeHashForm::kCompact, cloudapi::ComposeHashForm::kCompactNormalized,
        cloudapi::ComposeHashForm::kIndented}) {
    absl::StatusOr<std::string> hash = cloudapi::ComposeHash(text, form);
    if (hash.ok()) FUZZ_CHECK(cloudapi::ComposeHash(*once, form).value() == *hash);
  }
  return 0;
}
