// Test support: how many threads this process has now.
#ifndef ONCHAIN_KMS_PLATFORM_TESTING_PROCESS_THREADS_H_
#define ONCHAIN_KMS_PLATFORM_TESTING_PROCESS_THREADS_H_

namespace platform::testing {

// The kernel's count (/proc/self/task): a thread that ended is gone from it even before it is
// joined.
int ProcessThreads();

}  // namespace platform::testing

#endif  // ONCHAIN_KMS_PLATFORM_TESTING_PROCESS_THREADS_H_
