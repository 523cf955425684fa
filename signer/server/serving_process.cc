#include "signer/server/serving_process.h"

#include <malloc.h>

#include <cstddef>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

// jemalloc's control interface, when jemalloc is the process's malloc (linked or preloaded);
// null otherwise (weak: no build or run dependency on jemalloc's header or library).
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen) __attribute__((weak));

namespace signer::server {

std::string AllocatorInUse() {
  const char* version = nullptr;
  size_t size = sizeof(version);
  if (mallctl != nullptr && mallctl("version", &version, &size, nullptr, 0) == 0 && version != nullptr) {
    return absl::StrCat("jemalloc ", version);
  }
  return "glibc";
}

void ConfigureServingProcess() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (mallctl != nullptr) return;  // jemalloc: its defaults (mallopt would tune the unused glibc heap)
  constexpr int kKeep = 64 << 20;
  ::mallopt(M_TRIM_THRESHOLD, kKeep);  // also fixes the mmap threshold (no dynamic growth)
  ::mallopt(M_TOP_PAD, 1 << 20);       // grow the heap 1 MiB at a time, not page by page
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

}  // namespace signer::server
