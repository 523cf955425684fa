#include "platform/schema_version.h"

#include "absl/strings/str_cat.h"

namespace platform {

absl::Status CheckSchemaVersion(absl::string_view database, int64_t version, int64_t known) {
  if (version <= known) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("database ", database, " has schema version ", version,
                                                    "; this program knows versions up to ", known));
}

}  // namespace platform
