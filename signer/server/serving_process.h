// Process-wide settings for a signer that serves many small requests on many threads, set once
// in main before any thread exists (the signer binary, and the benchmark that measures it).
//
// * absl::Mutex deadlock detection off: Debian's Abseil is built with it on, and then every
//   Lock/Unlock of every absl::Mutex (audit log, record reader, usage ledger, policy) takes one
//   process-wide graph lock: all request threads serialise on it. The project's lock order is
//   kept by its structure and ThreadSanitizer runs (tools/tsan.sh), not by this runtime check.
// * glibc malloc keeps freed memory instead of returning it at once: gRPC and protobuf allocate
//   and free per call on several threads, and the default trim threshold made the arenas shrink
//   and grow again, so a busy signer spent ~5 % of its CPU in page faults (zeroing new pages)
//   and munmap/mprotect. Bounded: at most 64 MiB stays cached per arena.
#ifndef ONCHAIN_KMS_SIGNER_SERVER_SERVING_PROCESS_H_
#define ONCHAIN_KMS_SIGNER_SERVER_SERVING_PROCESS_H_

namespace signer::server {

void ConfigureServingProcess();

}  // namespace signer::server

#endif  // ONCHAIN_KMS_SIGNER_SERVER_SERVING_PROCESS_H_
