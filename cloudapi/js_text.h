// JavaScript string semantics over UTF-8: what the SDK's regexes call whitespace and line
// terminators, String.prototype.trim, the default sort order (UTF-16 code units) and which
// property keys a JS engine enumerates first (array indices).
#ifndef ONCHAIN_KMS_CLOUDAPI_JS_TEXT_H_
#define ONCHAIN_KMS_CLOUDAPI_JS_TEXT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cloudapi {

// Code points of well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
// InvalidArgument "<what>: invalid UTF-8 at byte N" otherwise; the text itself is never echoed.
absl::StatusOr<std::u32string> DecodeUtf8(absl::string_view text, absl::string_view what);
bool IsValidUtf8(absl::string_view text);
void AppendUtf8(char32_t code_point, std::string& out);
std::string EncodeUtf8(std::u32string_view code_points);

// `\s` of a JS regex without the u flag, and the set String.prototype.trim removes
// (WhiteSpace + LineTerminator).
bool IsJsWhitespace(char32_t c);
// LF, CR, U+2028, U+2029: where `^`/`$` match in multiline mode and what `.` excludes.
bool IsJsLineTerminator(char32_t c);
std::u32string_view JsTrim(std::u32string_view s);

// a < b in Array.prototype.sort's default order (UTF-16 code units). Both valid UTF-8.
bool JsStringLess(absl::string_view a, absl::string_view b);

// The index if `key` is a canonical array index ("0" .. "4294967294"): a JS engine enumerates
// such own properties first, in ascending numeric order, before all other string keys.
std::optional<uint32_t> JsArrayIndex(absl::string_view key);

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_JS_TEXT_H_
