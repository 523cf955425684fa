// Process-wide settings for a signer that serves many small requests on many threads, set once
// in main before any thread exists (the signer binary, and the benchmark that measures it).
//
// * absl::Mutex deadlock detection off: Debian's Abseil is built with it on, and then every
//   Lock/Unlock of every absl::Mutex (audit log, record reader, usage ledger, policy) takes one
//   process-wide graph lock: all request threads serialise on it. The project's lock order is
//   kept by its structure and ThreadSanitizer runs (tools/tsan.sh), not by this runtime check.
// * The allocator is jemalloc: //signer:signer and its benchmarks link it (cc_binary `malloc`).
//   A SignBatch allocates its items' records, audit entries and replies on a gRPC thread and
//   frees them on the group-commit thread; glibc's malloc serves such frees off its fast paths,
//   and took ~12 % of the signer's CPU per signature (bench/README.md "Stop 32").
// * Where glibc's malloc runs instead (sanitizer builds, which bring their own allocator, or a
//   binary built without the `malloc` attribute), it keeps freed memory instead of returning it
//   at once: the default trim threshold made its arenas shrink and grow again, so a busy signer
//   spent ~5 % of its CPU in page faults and munmap/mprotect. Bounded: 64 MiB per arena.
#ifndef ONCHAIN_KMS_SIGNER_SERVER_SERVING_PROCESS_H_
#define ONCHAIN_KMS_SIGNER_SERVER_SERVING_PROCESS_H_

#include <string>

namespace signer::server {

void ConfigureServingProcess();

// The malloc this process runs on, for the startup log: "jemalloc <version>" or "glibc".
std::string AllocatorInUse();

}  // namespace signer::server

#endif  // ONCHAIN_KMS_SIGNER_SERVER_SERVING_PROCESS_H_
