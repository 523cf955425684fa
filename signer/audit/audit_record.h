// One line of the audit log as a record (private to //signer/audit): its own hash checked, its
// seq and prev read, and the torn start of a record that a failed write left before a whole one.
#ifndef ONCHAIN_KMS_SIGNER_AUDIT_AUDIT_RECORD_H_
#define ONCHAIN_KMS_SIGNER_AUDIT_AUDIT_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/json/object.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signer::audit {

// A record line ends with this, 64 hex digits and "}.
inline constexpr char kHashField[] = ",\"hash\":\"";
inline constexpr char kZeroHash[] = "0000000000000000000000000000000000000000000000000000000000000000";
// The "event" of the record start-up writes after repairing a torn tail, and its "repair" kinds.
inline constexpr char kRepairEvent[] = "audit_log_repaired";
inline constexpr char kRepairCut[] = "cut_torn_record";
inline constexpr char kRepairNewline[] = "restored_newline";
inline constexpr char kRepairTornBefore[] = "torn_bytes_before_record";

struct ParsedRecord {
  uint64_t seq = 0;
  std::string prev;
  std::string hash;
  boost::json::object fields;
};

// A line (without its newline) whose own hash verifies and which has seq and prev.
// InvalidArgument with the verifier's wording otherwise ("... this record was edited").
absl::StatusOr<ParsedRecord> ParseRecord(absl::string_view line);

// A signer before the torn-write fix could leave a record's first bytes and then write the next
// record after them on the same line. The offset of that whole record in `line`, or npos.
size_t WholeRecordAfterTornBytes(absl::string_view line);

// Lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(absl::string_view bytes);

}  // namespace signer::audit

#endif  // ONCHAIN_KMS_SIGNER_AUDIT_AUDIT_RECORD_H_
