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

// `n` as `width` decimal digits at `out`.
void PutDigits(char* out, int64_t n, int width) {
  for (int i = width - 1; i >= 0; --i, n /= 10) out[i] = static_cast<char>('0' + n % 10);
}

}  // namespace

std::string RecordTime(absl::Time t) {
  const int64_t ms = absl::ToUnixMillis(t);
  const int64_t secs = ms / 1000;
  int64_t days = secs / 86400;
  const int64_t sod = secs % 86400;
  // Civil date of a day number (days since 1970-01-01), H. Hinnant's days_from_civil inverse.
  days += 719468;
  const int64_t era = days / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  std::string out = "0000-00-00T00:00:00.000Z";
  PutDigits(&out[0], year, 4);
  PutDigits(&out[5], month, 2);
  PutDigits(&out[8], day, 2);
  PutDigits(&out[11], sod / 3600, 2);
  PutDigits(&out[14], sod / 60 % 60, 2);
  PutDigits(&out[17], sod % 60, 2);
  PutDigits(&out[20], ms % 1000, 3);
  return out;
}

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
