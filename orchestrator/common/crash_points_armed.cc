// The armed crash points (test builds only; see crash_points.h).
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "orchestrator/common/crash_points.h"
#include "platform/log/log.h"

namespace orchestrator {

// The points ORCHESTRATOR_CRASH_AT names, read once. External linkage on purpose: the symbol
// tells //orchestrator:shipped_binary_test that a binary holds crash-point code.
const std::set<std::string>& ArmedCrashPoints() {
  static const std::set<std::string>* armed = [] {
    auto* s = new std::set<std::string>();
    if (const char* v = ::getenv("ORCHESTRATOR_CRASH_AT"); v != nullptr) {
      for (absl::string_view p : absl::StrSplit(v, ',', absl::SkipWhitespace())) s->insert(std::string(p));
    }
    return s;
  }();
  return *armed;
}

void CrashPoint(absl::string_view step, absl::string_view point) {
  const std::set<std::string>& armed = ArmedCrashPoints();
  if (armed.empty()) return;
  const std::string key = absl::StrCat(step, ":", point);
  if (armed.count(key) == 0) return;
  platform::log::Error("crash point reached: killing the process with SIGKILL", {{"crash_point", key}});
  ::kill(::getpid(), SIGKILL);
  ::_exit(137);
}

}  // namespace orchestrator
