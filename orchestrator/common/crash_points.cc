#include "orchestrator/common/crash_points.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "platform/log/log.h"

namespace orchestrator {
namespace {

const std::set<std::string>& Armed() {
  static const std::set<std::string>* armed = [] {
    auto* s = new std::set<std::string>();
    if (const char* v = ::getenv("ORCHESTRATOR_CRASH_AT"); v != nullptr) {
      for (absl::string_view p : absl::StrSplit(v, ',', absl::SkipWhitespace())) s->insert(std::string(p));
    }
    return s;
  }();
  return *armed;
}

}  // namespace

void CrashPoint(absl::string_view step, absl::string_view point) {
  const std::set<std::string>& armed = Armed();
  if (armed.empty()) return;
  const std::string key = absl::StrCat(step, ":", point);
  if (armed.count(key) == 0) return;
  platform::log::Error("crash point reached: killing the process with SIGKILL", {{"crash_point", key}});
  ::kill(::getpid(), SIGKILL);
  ::_exit(137);
}

}  // namespace orchestrator
