// VerifyAuditLog (audit_log.h): checks every record's hash, seq and prev, and reports what torn
// writes and start-up repairs left in the file as notes rather than failing on them.
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "signer/audit/audit_log.h"
#include "signer/audit/audit_record.h"

namespace signer::audit {
namespace {

// The note for a repair record start-up wrote, or "" for any other record.
std::string RepairNote(const ParsedRecord& r, uint64_t line_no) {
  const boost::json::value* event = r.fields.if_contains("event");
  const boost::json::value* repair = r.fields.if_contains("repair");
  const boost::json::value* bytes = r.fields.if_contains("bytes");
  if (event == nullptr || !event->is_string() || event->as_string() != kRepairEvent || repair == nullptr ||
      !repair->is_string() || bytes == nullptr || !bytes->is_int64()) {
    return "";
  }
  const std::string kind(repair->as_string().c_str());
  if (kind == kRepairCut) {
    return absl::StrCat("line ", line_no, ": start-up cut a torn record of ", bytes->as_int64(),
                        " bytes (a write that did not finish) after record ", r.seq - 1);
  }
  if (kind == kRepairNewline) {
    return absl::StrCat("line ", line_no, ": start-up restored the newline of record ", r.seq - 1);
  }
  return absl::StrCat("line ", line_no, ": start-up noted ", bytes->as_int64(), " torn bytes before record ", r.seq - 1,
                      " (left in place)");
}

// The last bytes of the file, after the last newline.
std::string TailNote(const std::string& tail, uint64_t line_no, uint64_t expected_seq, const std::string& prev) {
  absl::StatusOr<ParsedRecord> r = ParseRecord(tail);
  if (r.ok() && r->seq == expected_seq && r->prev == prev) {
    return absl::StrCat("line ", line_no, ": record ", r->seq,
                        " is whole but has no newline; the signer adds it at its next start");
  }
  return absl::StrCat("line ", line_no, ": torn final record (", tail.size(),
                      " bytes, no newline): a write that did not finish; the signer cuts it at its next start");
}

}  // namespace

VerifyResult VerifyAuditLog(const std::string& path, const std::string& expected_head) {
  VerifyResult r;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    r.message = absl::StrCat(path, ": cannot be read");
    return r;
  }
  const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string prev = kZeroHash;
  if (!expected_head.empty() && expected_head == prev) r.expected_head_seq = 0;
  uint64_t expected_seq = 1;
  uint64_t line_no = 0;
  auto fail = [&](absl::string_view why) {
    r.ok = false;
    r.bad_line = line_no;
    r.message = absl::StrCat("line ", line_no, ": ", why);
    return r;
  };
  for (size_t pos = 0; pos < content.size();) {
    ++line_no;
    const size_t nl = content.find('\n', pos);
    if (nl == std::string::npos) {
      r.notes.push_back(TailNote(content.substr(pos), line_no, expected_seq, prev));
      break;
    }
    absl::string_view line = absl::string_view(content).substr(pos, nl - pos);
    pos = nl + 1;
    absl::StatusOr<ParsedRecord> rec = ParseRecord(line);
    if (const size_t whole = rec.ok() ? std::string::npos : WholeRecordAfterTornBytes(line); whole != line.npos) {
      r.notes.push_back(absl::StrCat("line ", line_no, ": ", whole,
                                     " bytes of a torn record before the record (a write that failed, by a signer "
                                     "before the torn-write fix); the chain continues"));
      rec = ParseRecord(line.substr(whole));
    }
    if (!rec.ok()) return fail(rec.status().message());
    if (rec->seq != expected_seq) {
      return fail(absl::StrCat("seq ", rec->seq, " where ", expected_seq,
                               " was expected: a record was removed, inserted or reordered before this line"));
    }
    if (rec->prev != prev) {
      return fail(absl::StrCat("prev does not match the hash of line ", line_no - 1,
                               ": a record was removed, inserted, reordered or edited before this line"));
    }
    if (std::string note = RepairNote(*rec, line_no); !note.empty()) r.notes.push_back(std::move(note));
    prev = rec->hash;
    if (!expected_head.empty() && expected_head == prev) r.expected_head_seq = rec->seq;
    ++expected_seq;
    ++r.records;
  }
  r.head_hash = prev;
  if (!expected_head.empty() && !r.expected_head_seq.has_value()) {
    r.head_missing = true;
    r.message = absl::StrCat("expected head ", expected_head,
                             " is not the hash of any record: records were removed from the end of the log (cut at a "
                             "record boundary) or the log was replaced; the chain verifies up to record ",
                             r.records, ", head ", prev);
    return r;
  }
  r.ok = true;
  r.message = absl::StrCat("ok: ", r.records, " records, head ", prev);
  if (r.expected_head_seq.has_value()) {
    absl::StrAppend(&r.message, "; the expected head is record ", *r.expected_head_seq);
    if (*r.expected_head_seq != r.records) {
      absl::StrAppend(&r.message, ", ", r.records - *r.expected_head_seq, " records appended since");
    }
  }
  if (!r.notes.empty())
    absl::StrAppend(&r.message, " (", r.notes.size(), r.notes.size() == 1 ? " repair note)" : " repair notes)");
  return r;
}

}  // namespace signer::audit
