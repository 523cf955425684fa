// Phala Cloud error responses -> absl::Status (facts/phala-cloud-api.md §4), and the small
// helpers the client's retry loop needs (Retry-After, secret redaction).
//
// Status mapping (HTTP status, then the server's error code where it refines the class):
//   400, 422                 INVALID_ARGUMENT   (422: FastAPI `loc` minus body/query/path/header
//                                                joined by '.', e.g. "compose_file.name")
//   401                      UNAUTHENTICATED
//   403                      PERMISSION_DENIED
//   404                      NOT_FOUND
//   409                      ALREADY_EXISTS for ERR-03-007 (app id conflict) and ERR-01-004
//                            (duplicate CVM name), ABORTED otherwise
//   402, ERR-04-001          FAILED_PRECONDITION (insufficient balance)
//   ERR-02-015               RESOURCE_EXHAUSTED (quota)
//   408                      DEADLINE_EXCEEDED
//   429                      RESOURCE_EXHAUSTED
//   465 (when not a typed    FAILED_PRECONDITION  (compose hash registration required)
//        precondition value)
//   466, 467, 468            FAILED_PRECONDITION  (compose hash expired / transaction
//                                                  verification failed / hash not allowed)
//   other 4xx                FAILED_PRECONDITION
//   500 and other 5xx        INTERNAL
//   501                      UNIMPLEMENTED
//   502, 503, 504            UNAVAILABLE
//   anything else            UNKNOWN
// The message is "<operation>: HTTP <status>[ <error code>]: <server message>"; the server
// message is cut to 500 bytes, control characters replaced, and every occurrence of the API key
// replaced by "[REDACTED]". The structured facts ride along as a payload (GetApiErrorInfo).
#ifndef ONCHAIN_KMS_CLOUDAPI_API_ERROR_H_
#define ONCHAIN_KMS_CLOUDAPI_API_ERROR_H_

#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cloudapi {

// What a Phala Cloud error response said, as far as the SDK's parseApiError understands it.
struct ApiError {
  int http_status = 0;
  std::string error_code;  // "ERR-03-007"; empty when the body had none
  std::string message;     // the server's message (not yet redacted)
  std::string field;       // 422: the first issue's field path ("compose_file.name")
  int issues = 0;          // 422: number of validation issues
  // Structured `details` ([{field, value}...]) of a ResourceError-shaped body, else null.
  boost::json::value details;
};

// Reads a (possibly non-JSON) error body: `detail` as string, FastAPI validation array, or an
// object with `error_code` + `message` (nested under `detail` or at the top level).
ApiError ParseApiError(int http_status, absl::string_view body);

absl::StatusCode StatusCodeForApiError(const ApiError& error);

// Replaces every occurrence of `secret` (when non-empty) by "[REDACTED]".
std::string Redact(absl::string_view text, absl::string_view secret);

// The status for an error response: code from StatusCodeForApiError, message as described at the
// top of this file with `secret` redacted, ApiErrorInfo payload attached.
absl::Status ApiErrorStatus(absl::string_view operation, const ApiError& error, absl::string_view secret,
                            std::optional<absl::Duration> retry_after);

// The structured part of a status made by ApiErrorStatus.
struct ApiErrorInfo {
  int http_status = 0;
  std::string error_code;
  std::string field;
  std::optional<absl::Duration> retry_after;  // 429/503 with Retry-After
};
std::optional<ApiErrorInfo> GetApiErrorInfo(const absl::Status& status);

// The SDK's isAppIdConflictError: error code ERR-03-007.
bool IsAppIdConflict(const absl::Status& status);

// Retry-After: delay-seconds or an HTTP-date (IMF-fixdate, RFC 850 or asctime form), relative to
// `now`; a date in the past is zero. nullopt when the value is neither.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now);

}  // namespace cloudapi

#endif  // ONCHAIN_KMS_CLOUDAPI_API_ERROR_H_
