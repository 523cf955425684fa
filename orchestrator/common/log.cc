#include "orchestrator/common/log.h"

#include <unistd.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace orchestrator::log {
namespace {

std::atomic<int> min_level{static_cast<int>(Level::kInfo)};

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string Quote(absl::string_view s) { return boost::json::serialize(boost::json::string(s.data(), s.size())); }

}  // namespace

void SetMinLevel(Level level) { min_level.store(static_cast<int>(level)); }

void Log(Level level, absl::string_view message, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < min_level.load()) return;
  std::string line = absl::StrCat(
      "{\"ts\":", Quote(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone())),
      ",\"level\":\"", LevelName(level), "\",\"msg\":", Quote(message));
  for (const Field& f : fields) absl::StrAppend(&line, ",", Quote(f.first), ":", Quote(f.second));
  line += "}\n";
  for (size_t off = 0; off < line.size();) {
    const ssize_t n = ::write(2, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

}  // namespace orchestrator::log
