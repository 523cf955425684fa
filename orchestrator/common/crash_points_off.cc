// The shipped build's crash points: none (see crash_points.h).
#include "orchestrator/common/crash_points.h"

namespace orchestrator {

void CrashPoint(absl::string_view, absl::string_view) {}

}  // namespace orchestrator
