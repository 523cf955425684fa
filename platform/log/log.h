// The one structured logger of both services: one JSON object per line on stderr, e.g.
//   {"ts":"2026-08-01T12:00:00.123Z","level":"info","msg":"step succeeded","op":"op_01..","attempt":2}
// `ts` is RFC 3339 UTC with milliseconds. Each line goes out in one write(2), so lines from
// concurrent threads (and processes sharing the stream) never interleave.
//
// Callers pass only non-secret fields: never a private key, a password, an env var value, an API
// key or a bearer token. Nothing here inspects values; the process-level leak tests enforce it.
#ifndef ONCHAIN_KMS_PLATFORM_LOG_LOG_H_
#define ONCHAIN_KMS_PLATFORM_LOG_LOG_H_

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace platform::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// "debug", "info", "warn", "error".
absl::string_view LevelName(Level level);
// The inverse of LevelName; INVALID_ARGUMENT for anything else.
absl::StatusOr<Level> ParseLevel(absl::string_view name);

// Lines below `level` are dropped (default kInfo). Safe to call from any thread.
void SetMinLevel(Level level);
bool Enabled(Level level);

// A field's value: a string, an integer, a double or a bool, written as the matching JSON type
// (a double with 6 significant digits; NaN and infinities as null).
// Like absl::AlphaNum it only views a string argument: build fields inside the Log call.
class Value {
 public:
  Value(const char* s) : v_(std::string_view(s)) {}                         // NOLINT(google-explicit-constructor)
  Value(std::string_view s) : v_(s) {}                                      // NOLINT(google-explicit-constructor)
  Value(absl::string_view s) : v_(std::string_view(s.data(), s.size())) {}  // NOLINT(google-explicit-constructor)
  Value(const std::string& s) : v_(std::string_view(s)) {}                  // NOLINT(google-explicit-constructor)
  Value(bool b) : v_(b) {}                                                  // NOLINT(google-explicit-constructor)
  template <std::signed_integral T>
  Value(T i) : v_(static_cast<int64_t>(i)) {}   // NOLINT(google-explicit-constructor)
  template <std::unsigned_integral T>           // bool takes the exact-match constructor above
  Value(T u) : v_(static_cast<uint64_t>(u)) {}  // NOLINT(google-explicit-constructor)
  template <std::floating_point T>
  Value(T d) : v_(static_cast<double>(d)) {}  // NOLINT(google-explicit-constructor)

  // Appends the JSON text of this value to `out`.
  void AppendJson(std::string* out) const;

 private:
  std::variant<std::string_view, int64_t, uint64_t, double, bool> v_;
};

struct Field {
  Field(absl::string_view k, Value v) : key(k), value(v) {}
  absl::string_view key;
  Value value;
};

void Log(Level level, absl::string_view message, std::initializer_list<Field> fields = {});

inline void Debug(absl::string_view m, std::initializer_list<Field> f = {}) { Log(Level::kDebug, m, f); }
inline void Info(absl::string_view m, std::initializer_list<Field> f = {}) { Log(Level::kInfo, m, f); }
inline void Warn(absl::string_view m, std::initializer_list<Field> f = {}) { Log(Level::kWarn, m, f); }
inline void Error(absl::string_view m, std::initializer_list<Field> f = {}) { Log(Level::kError, m, f); }

// The line Log writes for these arguments at time `now`, newline included (for tests).
std::string FormatLine(Level level, absl::Time now, absl::string_view message, absl::Span<const Field> fields);

}  // namespace platform::log

#endif  // ONCHAIN_KMS_PLATFORM_LOG_LOG_H_
