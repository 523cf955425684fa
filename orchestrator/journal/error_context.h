// The journal backends' error prefix: "journal: <what>: <cause>", keeping the cause's code
// (UNAVAILABLE stays UNAVAILABLE: not written, retry later; journal.h).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_ERROR_CONTEXT_H_
#define ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_ERROR_CONTEXT_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace orchestrator::journal {

inline absl::Status Context(const absl::Status& s, absl::string_view what) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat("journal: ", what, ": ", s.message()));
}

template <typename T>
absl::StatusOr<T> Context(absl::StatusOr<T> v, absl::string_view what) {
  if (v.ok()) return v;
  return Context(v.status(), what);
}

}  // namespace orchestrator::journal

#endif  // ONCHAIN_KMS_ORCHESTRATOR_JOURNAL_ERROR_CONTEXT_H_
