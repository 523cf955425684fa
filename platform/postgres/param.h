// One typed statement parameter ($1, $2, ... in order). Integers and text travel in PostgreSQL's
// text format, so the server's inferred type decides (bigint, integer, numeric, text, varchar);
// bytes travel in binary format (no escaping), for bytea.
#ifndef ONCHAIN_KMS_PLATFORM_POSTGRES_PARAM_H_
#define ONCHAIN_KMS_PLATFORM_POSTGRES_PARAM_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace platform::postgres {

class Param {
 public:
  enum class Format { kNull, kText, kBinary };

  static Param Int(int64_t value) { return Param(Format::kText, absl::StrCat(value)); }
  // Text may not contain a NUL byte (PostgreSQL's text cannot); Execute refuses it.
  static Param Text(absl::string_view value) { return Param(Format::kText, std::string(value)); }
  static Param Bytes(absl::string_view value) { return Param(Format::kBinary, std::string(value)); }
  static Param Bytes(absl::Span<const uint8_t> value) {
    return Bytes(absl::string_view(reinterpret_cast<const char*>(value.data()), value.size()));
  }
  static Param Null() { return Param(Format::kNull, ""); }

  Format format() const { return format_; }
  const std::string& value() const { return value_; }

 private:
  Param(Format format, std::string value) : format_(format), value_(std::move(value)) {}
  Format format_;
  std::string value_;
};

}  // namespace platform::postgres

#endif  // ONCHAIN_KMS_PLATFORM_POSTGRES_PARAM_H_
