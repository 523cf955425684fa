#include "platform/log/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <type_traits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "platform/utc_millis.h"

namespace platform::log {
namespace {

std::atomic<int> min_level{static_cast<int>(Level::kInfo)};

// JSON string escaping (RFC 8259): quotes, backslashes and every control character. Bytes >= 0x80
// pass through unchanged (callers log UTF-8).
void AppendQuoted(std::string_view s, std::string* out) {
  out->push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void WriteAll(const std::string& line) {
  // One write(2) in the normal case; the loop only finishes a write a signal interrupted.
  for (size_t off = 0; off < line.size();) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

absl::StatusOr<Level> ParseLevel(absl::string_view name) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (name == LevelName(l)) return l;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("must be one of debug, info, warn, error (got \"", absl::CHexEscape(name), "\")"));
}

void SetMinLevel(Level level) { min_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool Enabled(Level level) { return static_cast<int>(level) >= min_level.load(std::memory_order_relaxed); }

void Value::AppendJson(std::string* out) const {
  std::visit(
      [out](auto v) {
        using T = decltype(v);
        if constexpr (std::is_same_v<T, std::string_view>) {
          AppendQuoted(v, out);
        } else if constexpr (std::is_same_v<T, bool>) {
          out->append(v ? "true" : "false");
        } else if constexpr (std::is_same_v<T, double>) {
          absl::StrAppend(out, std::isfinite(v) ? absl::StrCat(v) : "null");  // JSON has no NaN
        } else {
          absl::StrAppend(out, v);
        }
      },
      v_);
}

std::string FormatLine(Level level, absl::Time now, absl::string_view message, absl::Span<const Field> fields) {
  std::string line =
      absl::StrCat("{\"ts\":\"", platform::UtcMillis(now), "\",\"level\":\"", LevelName(level), "\",\"msg\":");
  AppendQuoted(std::string_view(message.data(), message.size()), &line);
  for (const Field& f : fields) {
    line.push_back(',');
    AppendQuoted(std::string_view(f.key.data(), f.key.size()), &line);
    line.push_back(':');
    f.value.AppendJson(&line);
  }
  line.append("}\n");
  return line;
}

void Log(Level level, absl::string_view message, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  WriteAll(FormatLine(level, absl::Now(), message, absl::Span<const Field>(fields.begin(), fields.size())));
}

}  // namespace platform::log
