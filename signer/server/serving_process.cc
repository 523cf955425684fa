#include "signer/server/serving_process.h"

#include <malloc.h>

#include "absl/synchronization/mutex.h"

namespace signer::server {

void ConfigureServingProcess() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  constexpr int kKeep = 64 << 20;
  ::mallopt(M_TRIM_THRESHOLD, kKeep);  // also fixes the mmap threshold (no dynamic growth)
  ::mallopt(M_TOP_PAD, 1 << 20);       // grow the heap 1 MiB at a time, not page by page
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

}  // namespace signer::server
