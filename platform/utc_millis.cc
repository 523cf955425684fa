#include "platform/utc_millis.h"

#include <cstdint>

namespace platform {
namespace {

// `n` as `width` decimal digits at `out`.
void PutDigits(char* out, int64_t n, int width) {
  for (int i = width - 1; i >= 0; --i, n /= 10) out[i] = static_cast<char>('0' + n % 10);
}

}  // namespace

std::string UtcMillis(absl::Time t) {
  const int64_t ms = absl::ToUnixMillis(t);
  const int64_t secs = ms / 1000;
  int64_t days = secs / 86400;
  const int64_t sod = secs % 86400;
  // Civil date of a day number (days since 1970-01-01), H. Hinnant's days_from_civil inverse.
  days += 719468;
  const int64_t era = days / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  std::string out = "0000-00-00T00:00:00.000Z";
  PutDigits(&out[0], year, 4);
  PutDigits(&out[5], month, 2);
  PutDigits(&out[8], day, 2);
  PutDigits(&out[11], sod / 3600, 2);
  PutDigits(&out[14], sod / 60 % 60, 2);
  PutDigits(&out[17], sod % 60, 2);
  PutDigits(&out[20], ms % 1000, 3);
  return out;
}

}  // namespace platform
