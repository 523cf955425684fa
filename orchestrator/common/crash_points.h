// Test-only fault points, compiled in but inert unless the environment variable
// ORCHESTRATOR_CRASH_AT is set when the process starts:
//
//   ORCHESTRATOR_CRASH_AT=<step>:<point>[,<step>:<point>...]
//
// CrashPoint(step, point) then kills the process with SIGKILL (exactly what `kill -9` does: no
// destructor, no flush) the first time the named step reaches the named point. Points:
//   before   the step's intent is journaled; its side effect has not started
//   after    the side effect happened (the call returned / the transaction was mined); its result
//            is not journaled yet
//   intent   (transaction steps) the signer returned a signature that is not journaled yet
//   signed   (transaction steps) the signed transaction is journaled; not broadcast yet
// The process logs the crash point to stderr before dying.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_COMMON_CRASH_POINTS_H_
#define ONCHAIN_KMS_ORCHESTRATOR_COMMON_CRASH_POINTS_H_

#include "absl/strings/string_view.h"

namespace orchestrator {

void CrashPoint(absl::string_view step, absl::string_view point);

}  // namespace orchestrator

#endif  // ONCHAIN_KMS_ORCHESTRATOR_COMMON_CRASH_POINTS_H_
