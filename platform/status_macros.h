// RETURN_IF_ERROR / ASSIGN_OR_RETURN, as in Abseil's internal status_macros.h (which Debian's
// Abseil does not ship). They only propagate: a caller that must add context writes the `if`.
//
//   RETURN_IF_ERROR(journal.Append(record));
//   ASSIGN_OR_RETURN(chain::Address owner, chain::Address::Parse(text));
//   ASSIGN_OR_RETURN(auto receipt, client.WaitForReceipt(hash));
#ifndef ONCHAIN_KMS_PLATFORM_STATUS_MACROS_H_
#define ONCHAIN_KMS_PLATFORM_STATUS_MACROS_H_

#include <utility>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace platform::status_internal {
inline const absl::Status& AsStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& AsStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}
}  // namespace platform::status_internal

#define PLATFORM_STATUS_CONCAT_INNER_(a, b) a##b
#define PLATFORM_STATUS_CONCAT_(a, b) PLATFORM_STATUS_CONCAT_INNER_(a, b)

// Returns the status of `expr` (an absl::Status or absl::StatusOr) from the enclosing function
// when it is not OK.
#define RETURN_IF_ERROR(expr)                                                                \
  do {                                                                                       \
    if (const auto& platform_status_ = (expr);                                               \
        ABSL_PREDICT_FALSE(!::platform::status_internal::AsStatus(platform_status_).ok())) { \
      return ::platform::status_internal::AsStatus(platform_status_);                        \
    }                                                                                        \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when not OK, else moves the
// value into `lhs` (a declaration such as `auto x` or an existing variable).
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  PLATFORM_ASSIGN_OR_RETURN_IMPL_(PLATFORM_STATUS_CONCAT_(platform_statusor_, __LINE__), lhs, rexpr)

#define PLATFORM_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                    \
  if (ABSL_PREDICT_FALSE(!statusor.ok())) {                   \
    return std::move(statusor).status();                      \
  }                                                           \
  lhs = *std::move(statusor)

#endif  // ONCHAIN_KMS_PLATFORM_STATUS_MACROS_H_
