// Test-only fault points. The engine calls CrashPoint() at each point; which definition it gets
// is chosen at link time, so the engine's code is the same in both builds:
//   //orchestrator/common:crash_points_off    a no-op, linked into the shipped //orchestrator
//   //orchestrator/common:crash_points_armed  (testonly) armed by the environment variable
//       ORCHESTRATOR_CRASH_AT when the process starts; linked into the testonly
//       //orchestrator:orchestrator_crash_points that the crash e2e tests run.
// A binary links exactly one of them (this target only declares the function).
//
//   ORCHESTRATOR_CRASH_AT=<step>:<point>[,<step>:<point>...]
//
// The armed CrashPoint(step, point) then kills the process with SIGKILL (exactly what `kill -9`
// does: no destructor, no flush) the first time the named step reaches the named point. Points:
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
