#include "signer/audit/audit_record.h"

#include <cstring>

#include <boost/json/parse.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "chain/hex.h"
#include "crypto/sha256.h"
#include "signer/audit/audit_log.h"

namespace signer::audit {
namespace {

bool IsLowerHex64(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

}  // namespace

std::string Sha256Hex(absl::string_view bytes) { return chain::ToHex(crypto::Sha256(bytes), false); }

absl::StatusOr<std::string> ComputeLineHash(const std::string& line, std::string* claimed_hash) {
  const size_t pos = line.rfind(kHashField);
  const size_t start = pos + std::strlen(kHashField);
  if (pos == std::string::npos || line.size() != start + 64 + 2 || line.compare(start + 64, 2, "\"}") != 0) {
    return absl::InvalidArgumentError("no trailing \"hash\" field");
  }
  *claimed_hash = line.substr(start, 64);
  if (!IsLowerHex64(*claimed_hash)) return absl::InvalidArgumentError("malformed \"hash\" field");
  std::string body = line.substr(0, pos);
  body.push_back('}');
  return Sha256Hex(body);
}

absl::StatusOr<ParsedRecord> ParseRecord(absl::string_view line) {
  ParsedRecord r;
  absl::StatusOr<std::string> h = ComputeLineHash(std::string(line), &r.hash);
  if (!h.ok()) return absl::InvalidArgumentError(absl::StrCat("not an audit record: ", h.status().message()));
  if (*h != r.hash) return absl::InvalidArgumentError("record hash mismatch: this record was edited");
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(boost::json::string_view(line.data(), line.size()), ec);
  if (ec || !v.is_object()) return absl::InvalidArgumentError("not a JSON object");
  r.fields = std::move(v.as_object());
  const boost::json::value* seq = r.fields.if_contains("seq");
  const boost::json::value* prev = r.fields.if_contains("prev");
  if (seq == nullptr || !seq->is_int64() || seq->as_int64() < 1 || prev == nullptr || !prev->is_string()) {
    return absl::InvalidArgumentError("missing seq or prev");
  }
  r.seq = static_cast<uint64_t>(seq->as_int64());
  r.prev = std::string(prev->as_string().c_str());
  return r;
}

size_t WholeRecordAfterTornBytes(absl::string_view line) {
  constexpr absl::string_view kStart = "{\"seq\":";
  if (line.substr(0, kStart.size()) != kStart) return absl::string_view::npos;  // not a record's start
  for (size_t p = line.find(kStart, 1); p != absl::string_view::npos; p = line.find(kStart, p + 1)) {
    if (ParseRecord(line.substr(p)).ok()) return p;
  }
  return absl::string_view::npos;
}

}  // namespace signer::audit
