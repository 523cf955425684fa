#include "platform/signals.h"

#include <pthread.h>

#include <cerrno>

namespace platform {

ShutdownSignals::ShutdownSignals(std::initializer_list<int> signals) {
  sigemptyset(&set_);
  for (int s : signals) {
    sigaddset(&set_, s);
    // A signal whose disposition is SIG_IGN is discarded, even for sigwait(); a non-interactive
    // shell starts background jobs with SIGINT ignored. With the default disposition and the
    // signal blocked, it stays pending until Wait() takes it.
    signal(s, SIG_DFL);
  }
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

int ShutdownSignals::Wait() {
  int signal = 0;
  while (sigwait(&set_, &signal) != 0) {
  }
  return signal;
}

}  // namespace platform
