#include "platform/postgres/result.h"

#include <postgresql/libpq-fe.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace platform::postgres {
namespace {

constexpr Oid kByteaOid = 17;  // pg_type.h: stable across releases

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// bytea's text output ("\x" then two hex digits a byte; bytea_output=hex, the default).
absl::StatusOr<std::string> DecodeByteaHex(absl::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
    return absl::InvalidArgumentError("bytea column: not in hex output format (bytea_output must be hex)");
  }
  std::string out;
  out.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i < text.size(); i += 2) {
    const int hi = HexDigit(text[i]);
    const int lo = HexDigit(text[i + 1]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("bytea column: bad hex digit");
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

}  // namespace

void Result::Clear::operator()(pg_result* result) const { PQclear(result); }

Result::Result(pg_result* result) : result_(result) {}

int Result::rows() const { return PQntuples(result_.get()); }

int Result::columns() const { return PQnfields(result_.get()); }

int64_t Result::affected_rows() const {
  int64_t n = 0;
  return absl::SimpleAtoi(PQcmdTuples(result_.get()), &n) ? n : 0;
}

std::string Result::command_tag() const { return PQcmdStatus(result_.get()); }

bool Result::IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }

std::string Result::Text(int row, int column) const {
  const char* value = PQgetvalue(result_.get(), row, column);
  if (value == nullptr) return "";
  return std::string(value, static_cast<size_t>(PQgetlength(result_.get(), row, column)));
}

absl::StatusOr<int64_t> Result::Int(int row, int column) const {
  if (IsNull(row, column)) return absl::InvalidArgumentError(absl::StrCat("column ", column, ": NULL, not an integer"));
  int64_t value = 0;
  if (!absl::SimpleAtoi(Text(row, column), &value)) {
    return absl::InvalidArgumentError(absl::StrCat("column ", column, ": not an integer that fits 64 bits"));
  }
  return value;
}

absl::StatusOr<std::string> Result::Bytes(int row, int column) const {
  if (IsNull(row, column) || PQftype(result_.get(), column) != kByteaOid) return Text(row, column);
  return DecodeByteaHex(Text(row, column));
}

absl::StatusOr<std::vector<uint8_t>> Result::ByteVector(int row, int column) const {
  absl::StatusOr<std::string> bytes = Bytes(row, column);
  if (!bytes.ok()) return bytes.status();
  return std::vector<uint8_t>(bytes->begin(), bytes->end());
}

}  // namespace platform::postgres
