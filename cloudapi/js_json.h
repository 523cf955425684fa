// JSON exactly as JavaScript's JSON.parse / JSON.stringify see it, on Boost.JSON values.
//
// A boost::json::object here stands for a JS object whose own properties were created in the
// object's stored order; JS then enumerates array-index keys ("0", "17", ...) first in ascending
// numeric order and the other keys in creation order, and so does StringifyLikeJs. Every number
// is a JS Number (an IEEE double): int64/uint64 values are converted, non-finite ones become null.
#ifndef ONCHAIN_KMS_CLOUDAPI_JS_JSON_H_
#define ONCHAIN_KMS_CLOUDAPI_JS_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cloudapi {

// JSON.parse(text): numbers become doubles rounded from their decimal text as JS does (so
// 9007199254740993 -> 9007199254740992, 1e400 -> Infinity); a duplicate key keeps its first
// position and takes the last value; "__proto__" is an ordinary key. Nesting is limited to 256
// levels. InvalidArgument for malformed JSON, invalid UTF-8 and unpaired surrogate escapes
// ("\ud800", which JS would keep in its UTF-16 string).
absl::StatusOr<boost::json::value> ParseJsonLikeJs(absl::string_view text);

// JSON.stringify(value) when indent is 0, JSON.stringify(value, null, indent) otherwise.
// InvalidArgument if a string or key is not valid UTF-8.
absl::StatusOr<std::string> StringifyLikeJs(const boost::json::value& value, int indent = 0);

// Number.prototype.toString() (shortest round-trip digits, JS exponent rules): 2, 1.5, 1e+21,
// 1e-7, -0 -> "0", NaN, Infinity.
std::string JsNumberToString(double value);

// An integer-valued JSON number: int64, uint64 within range, or an integral double below 2^53
// (JS numbers read by ParseJsonLikeJs are doubles). nullopt otherwise.
std::optional<int64_t> JsonAsInt(const boost::json::value& value);

// Appends JSON.stringify(text) (with the quotes). text must be valid UTF-8.
absl::Status AppendJsJsonString(absl::string_view text, std::string& out);

// The own properties of `object` in JS enumeration order (see top of file).
std::vector<const boost::json::key_value_pair*> JsPropertyOrder(const boost::json::object& object);

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_JS_JSON_H_
