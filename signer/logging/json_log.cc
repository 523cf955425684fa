#include "signer/logging/json_log.h"

#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace signer::logging {
namespace {

const char* Name(Level l) {
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

void Emit(Level level, std::string_view msg, const boost::json::object* extra,
          std::initializer_list<std::pair<std::string_view, boost::json::value>> fields) {
  boost::json::object o;
  o["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
  o["level"] = Name(level);
  o["msg"] = msg;
  for (const auto& [k, v] : fields) o[k] = v;
  if (extra != nullptr) {
    for (const auto& kv : *extra) o[kv.key()] = kv.value();
  }
  std::string line = boost::json::serialize(o);
  line.push_back('\n');
  // One write(2): lines from different threads never interleave (stderr is unbuffered anyway).
  size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

void Log(Level level, std::string_view msg, std::initializer_list<std::pair<std::string_view, boost::json::value>> fields) {
  Emit(level, msg, nullptr, fields);
}

void Log(Level level, std::string_view msg, const boost::json::object& fields) { Emit(level, msg, &fields, {}); }

}  // namespace signer::logging
