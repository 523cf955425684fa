// The interchange format of `signer records export | import` (design § 6.4): JSON Lines, a
// header line first ({"format":"onchain-kms/anti-equivocation","format_version":"1",...}), then one
// line per signature and per watermark. Integers are decimal strings (u64/u256 safe in every JSON
// parser), bytes 0x-hex, addresses checksummed, times RFC 3339 UTC with microseconds. Field order
// is fixed, so the same records always export to the same bytes.
#ifndef ONCHAIN_KMS_SIGNER_CLI_RECORDS_JSONL_H_
#define ONCHAIN_KMS_SIGNER_CLI_RECORDS_JSONL_H_

#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "signer/equivocation/record_admin.h"

namespace signer::cli {

inline constexpr char kRecordsFormat[] = "onchain-kms/anti-equivocation";
inline constexpr char kRecordsFormatVersion[] = "1";

// Lines without their newline.
std::string HeaderLine(absl::string_view source, absl::Time exported_at);
std::string SignatureLine(const equivocation::Record& r);
std::string WatermarkLine(const equivocation::Watermark& w);

// INVALID_ARGUMENT unless `line` is a header of this format and version.
absl::Status ParseHeader(absl::string_view line);
// A signature or a watermark line; INVALID_ARGUMENT naming the field otherwise.
absl::StatusOr<std::variant<equivocation::Record, equivocation::Watermark>> ParseLine(absl::string_view line);

}  // namespace signer::cli

#endif  // ONCHAIN_KMS_SIGNER_CLI_RECORDS_JSONL_H_
