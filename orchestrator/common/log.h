// Structured logs: one JSON object per line on stderr, e.g.
//   {"ts":"2026-08-01T12:00:00.123Z","level":"info","msg":"step succeeded","op":"op_01..","step":"commit"}
// Callers pass only non-secret fields: never an env var value, an API key or a bearer token.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_COMMON_LOG_H_
#define ONCHAIN_KMS_ORCHESTRATOR_COMMON_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace orchestrator::log {

enum class Level { kDebug, kInfo, kWarning, kError };

using Field = std::pair<absl::string_view, std::string>;

// Writes one line atomically (a single write(2)).
void Log(Level level, absl::string_view message, std::initializer_list<Field> fields = {});

inline void Info(absl::string_view m, std::initializer_list<Field> f = {}) { Log(Level::kInfo, m, f); }
inline void Warn(absl::string_view m, std::initializer_list<Field> f = {}) { Log(Level::kWarning, m, f); }
inline void Error(absl::string_view m, std::initializer_list<Field> f = {}) { Log(Level::kError, m, f); }

// Lines below this level are dropped (default kInfo).
void SetMinLevel(Level level);

}  // namespace orchestrator::log

#endif  // ONCHAIN_KMS_ORCHESTRATOR_COMMON_LOG_H_
