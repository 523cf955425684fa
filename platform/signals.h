// Waiting for SIGTERM / SIGINT (and, for a service that reloads, SIGHUP) in the main thread.
//
// The signals are blocked in the constructing thread and so in every thread created after it
// (gRPC's included), and consumed synchronously with sigwait(): no async-signal-safety traps.
// Construct it first thing in main(), before anything starts a thread.
#ifndef ONCHAIN_KMS_PLATFORM_SIGNALS_H_
#define ONCHAIN_KMS_PLATFORM_SIGNALS_H_

#include <signal.h>

#include <initializer_list>

namespace platform {

class ShutdownSignals {
 public:
  // Blocks `signals` (default SIGTERM and SIGINT).
  explicit ShutdownSignals(std::initializer_list<int> signals = {SIGTERM, SIGINT});
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // Blocks until one of the signals arrives; returns its number.
  int Wait();

 private:
  sigset_t set_;
};

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_SIGNALS_H_
