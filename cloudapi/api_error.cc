#include "cloudapi/api_error.h"

#include <cstdint>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace cloudapi {
namespace {

namespace json = boost::json;

constexpr char kPayloadUrl[] = "type.onchain-kms/cloudapi.ApiErrorInfo";
constexpr size_t kMaxMessage = 500;

// Control characters become spaces; cut at kMaxMessage bytes on a UTF-8 boundary.
std::string Sanitize(absl::string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxMessage + 3));
  for (char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : ch);
  }
  if (out.size() > kMaxMessage) {
    size_t cut = kMaxMessage;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  return out;
}

const json::string* StrOf(const json::object& o, absl::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  return v != nullptr && v->is_string() ? &v->get_string() : nullptr;
}

std::string FieldPath(const json::value& loc) {
  if (!loc.is_array()) return "";
  std::vector<std::string> parts;
  const json::array& a = loc.get_array();
  for (size_t i = 0; i < a.size(); ++i) {
    const json::value& p = a[i];
    std::string s = p.is_string() ? std::string(p.get_string()) : json::serialize(p);
    if (i == 0 && (s == "body" || s == "query" || s == "path" || s == "header")) continue;
    parts.push_back(std::move(s));
  }
  return absl::StrJoin(parts, ".");
}

void ReadValidationIssues(const json::array& issues, ApiError& e) {
  e.issues = static_cast<int>(issues.size());
  std::vector<std::string> parts;
  for (const json::value& item : issues) {
    if (!item.is_object()) continue;
    const json::object& o = item.get_object();
    std::string field = o.contains("loc") ? FieldPath(o.at("loc")) : "";
    const json::string* msg = StrOf(o, "msg");
    if (e.field.empty()) e.field = field;
    std::string part = field.empty() ? "" : absl::StrCat(field, ": ");
    absl::StrAppend(&part, msg ? absl::string_view(msg->data(), msg->size()) : "invalid");
    parts.push_back(std::move(part));
  }
  if (issues.size() == 1) {
    e.message = absl::StrCat("validation failed: ", parts.empty() ? "" : parts[0]);
  } else {
    e.message = absl::StrCat("validation failed (", issues.size(), " issues): ", absl::StrJoin(parts, "; "));
  }
}

}  // namespace

ApiError ParseApiError(int http_status, absl::string_view body) {
  ApiError e;
  e.http_status = http_status;
  json::error_code ec;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec || !v.is_object()) {
    // A proxy's HTML page, plain text, or nothing.
    e.message = std::string(absl::StripAsciiWhitespace(body.substr(0, 2 * kMaxMessage)));
    return e;
  }
  const json::object& o = v.get_object();
  if (const json::string* code = StrOf(o, "code")) e.error_code = std::string(*code);
  const json::value* detail = o.if_contains("detail");
  if (detail != nullptr && detail->is_null()) detail = nullptr;
  if (detail == nullptr && o.contains("error_code")) detail = &v;

  if (detail == nullptr) {
    if (const json::string* msg = StrOf(o, "message")) e.message = std::string(*msg);
  } else if (detail->is_string()) {
    e.message = std::string(detail->get_string());
  } else if (detail->is_array()) {
    ReadValidationIssues(detail->get_array(), e);
  } else if (detail->is_object()) {
    const json::object& d = detail->get_object();
    const json::string* code = StrOf(d, "error_code");
    const json::string* msg = StrOf(d, "message");
    if (code != nullptr && msg != nullptr) e.error_code = std::string(*code);
    if (msg != nullptr) e.message = std::string(*msg);
    if (const json::value* details = d.if_contains("details")) e.details = *details;
  }
  return e;
}

absl::StatusCode StatusCodeForApiError(const ApiError& e) {
  const int s = e.http_status;
  if (e.error_code == "ERR-04-001") return absl::StatusCode::kFailedPrecondition;
  if (e.error_code == "ERR-02-015") return absl::StatusCode::kResourceExhausted;
  switch (s) {
    case 400:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 408:
      return absl::StatusCode::kDeadlineExceeded;
    case 409:
      return e.error_code == "ERR-03-007" || e.error_code == "ERR-01-004" ? absl::StatusCode::kAlreadyExists
                                                                          : absl::StatusCode::kAborted;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 501:
      return absl::StatusCode::kUnimplemented;
    case 502:
    case 503:
    case 504:
      return absl::StatusCode::kUnavailable;
    default:
      break;
  }
  if (s >= 400 && s < 500) return absl::StatusCode::kFailedPrecondition;
  if (s >= 500 && s < 600) return absl::StatusCode::kInternal;
  return absl::StatusCode::kUnknown;
}

std::string Redact(absl::string_view text, absl::string_view secret) {
  if (secret.empty()) return std::string(text);
  return absl::StrReplaceAll(text, {{secret, "[REDACTED]"}});
}

absl::Status ApiErrorStatus(absl::string_view operation, const ApiError& e, absl::string_view secret,
                            std::optional<absl::Duration> retry_after) {
  // Redact before cutting, so no prefix of the secret survives the cut.
  std::string message = Sanitize(Redact(e.message, secret));
  if (message.empty()) message = "(no message)";
  std::string text = absl::StrCat(operation, ": HTTP ", e.http_status, e.error_code.empty() ? "" : " ",
                                  Sanitize(Redact(e.error_code, secret)), ": ", message);
  if (retry_after) {
    absl::StrAppend(&text, " (retry after ", absl::FormatDuration(*retry_after), ")");
  }
  absl::Status status(StatusCodeForApiError(e), Redact(text, secret));
  json::object info;
  info["http_status"] = e.http_status;
  info["error_code"] = Redact(e.error_code, secret);
  info["field"] = Redact(e.field, secret);
  if (retry_after) info["retry_after_ms"] = absl::ToInt64Milliseconds(*retry_after);
  status.SetPayload(kPayloadUrl, absl::Cord(json::serialize(info)));
  return status;
}

std::optional<ApiErrorInfo> GetApiErrorInfo(const absl::Status& status) {
  auto payload = status.GetPayload(kPayloadUrl);  // absl::optional (not std:: in this Abseil)
  if (!payload) return std::nullopt;
  json::error_code ec;
  json::value v = json::parse(std::string(*payload), ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.get_object();
  ApiErrorInfo info;
  if (const json::value* s = o.if_contains("http_status"); s && s->is_int64()) {
    info.http_status = static_cast<int>(s->get_int64());
  }
  if (const json::string* c = StrOf(o, "error_code")) info.error_code = std::string(*c);
  if (const json::string* f = StrOf(o, "field")) info.field = std::string(*f);
  if (const json::value* r = o.if_contains("retry_after_ms"); r && r->is_int64()) {
    info.retry_after = absl::Milliseconds(r->get_int64());
  }
  return info;
}

bool IsAppIdConflict(const absl::Status& status) {
  std::optional<ApiErrorInfo> info = GetApiErrorInfo(status);
  return info && info->error_code == "ERR-03-007";
}

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;
  if (absl::ascii_isdigit(static_cast<unsigned char>(value[0]))) {
    uint64_t seconds = 0;
    if (value.size() > 9 || !absl::SimpleAtoi(value, &seconds)) return std::nullopt;
    return absl::Seconds(static_cast<int64_t>(seconds));
  }
  static constexpr const char* kFormats[] = {
      "%a, %d %b %Y %H:%M:%S GMT",  // IMF-fixdate
      "%A, %d-%b-%y %H:%M:%S GMT",  // obsolete RFC 850
      "%a %b %e %H:%M:%S %Y",       // obsolete asctime
  };
  for (const char* format : kFormats) {
    absl::Time when;
    std::string err;
    if (absl::ParseTime(format, std::string(value), absl::UTCTimeZone(), &when, &err)) {
      return when > now ? when - now : absl::ZeroDuration();
    }
  }
  return std::nullopt;
}

}  // namespace cloudapi
