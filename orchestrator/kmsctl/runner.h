// kmsctl's calls: the channel to the orchestrator, and running one parsed command against a stub
// (the real one, or an in-process fake in tests) to an exit code.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_RUNNER_H_
#define ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_RUNNER_H_

#include <cstdio>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "onchainkms/orchestrator/v1/orchestrator.grpc.pb.h"
#include "orchestrator/kmsctl/cli.h"

namespace kmsctl {

// Lets another thread (the signal thread of main) stop the command: cancels the call in flight
// and wakes any back-off sleep. Thread-safe.
class Interrupter {
 public:
  // The call in flight (nullptr: none).
  void SetCall(grpc::ClientContext* context);
  void Interrupt();
  bool interrupted() const;
  // Sleeps up to `d`; false if interrupted.
  bool Sleep(absl::Duration d);

 private:
  mutable absl::Mutex mu_;
  grpc::ClientContext* call_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool interrupted_ ABSL_GUARDED_BY(mu_) = false;
};

// A channel for the connection options: insecure on a Unix socket or plaintext TCP, TLS (with a
// client certificate and/or a bearer token) otherwise. Errors: unreadable TLS or token files.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const Connection& connection, Io& io);

// Back-off between attempts when the orchestrator is unavailable.
struct RetryPolicy {
  // A call that starts an operation, or a query: a few attempts on UNAVAILABLE, then exit 6.
  int unary_attempts = 4;
  absl::Duration first_backoff = absl::Milliseconds(250);  // doubled per attempt
  absl::Duration max_backoff = absl::Seconds(5);
  // While following an operation (the watch, and handing env values back with SupplyEnvVars), a
  // lost orchestrator is retried for as long as --timeout allows: exponential with jitter
  // (backoff.h) between these.
  absl::Duration follow_first_backoff = absl::Milliseconds(100);
  absl::Duration follow_max_backoff = absl::Seconds(2);
};

// Runs the command (not kHelp); results to `out`, diagnostics to `err`. Returns the exit code.
int Run(const Invocation& invocation, v1::Orchestrator::StubInterface& stub, std::FILE* out, std::FILE* err,
        Interrupter& interrupter, const RetryPolicy& retry = RetryPolicy());

}  // namespace kmsctl

#endif  // ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_RUNNER_H_
