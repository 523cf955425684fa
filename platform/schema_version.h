// The one schema-version rule of both database layers (SQLite, PostgreSQL): a database written by
// a newer program is refused rather than written by code that does not know its shape.
#ifndef ONCHAIN_KMS_PLATFORM_SCHEMA_VERSION_H_
#define ONCHAIN_KMS_PLATFORM_SCHEMA_VERSION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace platform {

// FAILED_PRECONDITION naming `database` and both versions when `version` > `known`.
absl::Status CheckSchemaVersion(absl::string_view database, int64_t version, int64_t known);

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_SCHEMA_VERSION_H_
