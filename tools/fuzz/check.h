// FUZZ_CHECK(cond): an invariant a fuzz target asserts beyond "does not crash" (a round trip, two
// parsers agreeing). A violation aborts, which libFuzzer reports as a crash with the input.
#ifndef ONCHAIN_KMS_TOOLS_FUZZ_CHECK_H_
#define ONCHAIN_KMS_TOOLS_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

#endif  // ONCHAIN_KMS_TOOLS_FUZZ_CHECK_H_
