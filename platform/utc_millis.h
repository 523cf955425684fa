// An instant as RFC 3339 UTC with milliseconds ("2026-12-03T22:53:00.123Z"): the bytes
// absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone()) gives for the years 1970 to
// 9999, without parsing a format per call (the log's "ts" and the signer's audit "time", both on
// hot paths).
#ifndef ONCHAIN_KMS_PLATFORM_UTC_MILLIS_H_
#define ONCHAIN_KMS_PLATFORM_UTC_MILLIS_H_

#include <string>

#include "absl/time/time.h"

namespace platform {

std::string UtcMillis(absl::Time t);

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_UTC_MILLIS_H_
