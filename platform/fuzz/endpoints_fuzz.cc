// Addresses and connection strings from configs and flags: http(s) URLs (RPC endpoints, the
// Phala Cloud base URL), listen addresses, socket file modes, PostgreSQL DSNs. Invariants: a
// DSN's redaction never shows its password.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "platform/http/url.h"
#include "platform/listen.h"
#include "platform/postgres/dsn.h"
#include "tools/fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  if (absl::StatusOr<platform::http::Url> url = platform::http::ParseUrl(text); url.ok()) (void)url->Origin();
  (void)platform::ParseListenAddress(text);
  (void)platform::ParseFileMode(text);
  absl::StatusOr<platform::postgres::Dsn> dsn = platform::postgres::Dsn::Parse(text, "fuzz");
  if (dsn.ok()) {
    for (const auto& [key, value] : dsn->options()) {
      if (key == "password" && value.size() >= 8) {
        // Every copy of the password is replaced by the marker, so no text between markers may hold
        // it. (Not the text with the marker swapped for a byte: "password=sword=<re" redacts to
        // "password=<redacted>", and corpus password-repeated-in-host ends its password with the
        // very byte once used as the marker, which spelled the password again.)
        for (absl::string_view piece : absl::StrSplit(dsn->Redact(text), "<redacted>")) {
          FUZZ_CHECK(!absl::StrContains(piece, value));
        }
      }
    }
  }
  return 0;
}
