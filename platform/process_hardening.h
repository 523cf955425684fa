// Process-wide protections for a process that holds secrets (the signer's keys, the
// orchestrator's API key and env values in flight): no core dumps (RLIMIT_CORE 0), not
// dumpable (PR_SET_DUMPABLE 0: no ptrace attach by same-uid processes, /proc/<pid>/mem and
// environ unreadable to them, no core files).
#ifndef ONCHAIN_KMS_PLATFORM_PROCESS_HARDENING_H_
#define ONCHAIN_KMS_PLATFORM_PROCESS_HARDENING_H_

#include "absl/status/status.h"

namespace platform {

// Applies both; Internal if either system call fails. Call first thing in main().
absl::Status HardenProcess();

// Whether the process is currently dumpable (for tests).
bool ProcessIsDumpable();

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_PROCESS_HARDENING_H_
