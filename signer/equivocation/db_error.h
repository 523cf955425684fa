// How both backends report a database failure: UNAVAILABLE, whatever the cause, because the
// signer cannot decide or record now and must not sign. (ABORTED is reserved for "this record
// lost the race to another signer", which is not a failure of the database.)
#ifndef ONCHAIN_KMS_SIGNER_EQUIVOCATION_DB_ERROR_H_
#define ONCHAIN_KMS_SIGNER_EQUIVOCATION_DB_ERROR_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace signer::equivocation {

inline absl::Status DbError(const absl::Status& s, absl::string_view what) {
  if (s.ok()) return s;
  return absl::UnavailableError(absl::StrCat("anti-equivocation db: ", what, ": ", s.message()));
}
template <typename T>
absl::StatusOr<T> DbError(absl::StatusOr<T> v, absl::string_view what) {
  if (v.ok()) return v;
  return DbError(v.status(), what);
}

}  // namespace signer::equivocation

#endif  // ONCHAIN_KMS_SIGNER_EQUIVOCATION_DB_ERROR_H_
