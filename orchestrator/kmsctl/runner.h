// kmsctl's calls: the channel to the orchestrator, the `Session` through which each command's run
// function (commands.cc) talks to it, and running one parsed command against a stub (the real
// one, or an in-process fake in tests) to an exit code.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_RUNNER_H_
#define ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_RUNNER_H_

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "onchainkms/orchestrator/v1/orchestrator.grpc.pb.h"
#include "orchestrator/kmsctl/backoff.h"
#include "orchestrator/kmsctl/invocation.h"

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

// When to try a unary call again after UNAVAILABLE. A call without a request id (a query; cancel
// and adopt are idempotent too) is retried with back-off (from follow_first_backoff, jittered, up
// to follow_max_backoff) until --rpc-timeout after its first attempt: a transient failure to
// connect (a restart, a TLS handshake that failed on a loaded machine) costs a retry, not the
// command. A call that starts an operation keeps the `unary_attempts`, each with its own
// --rpc-timeout.
class UnaryRetry {
 public:
  UnaryRetry(bool mutating, absl::Duration rpc_timeout, const RetryPolicy& policy);
  // The deadline of the next attempt (InfiniteFuture: each attempt gets --rpc-timeout).
  absl::Time deadline() const { return deadline_; }
  // After a failed attempt: the delay before the next one, or nullopt to give up.
  std::optional<absl::Duration> Next();
  // The last UNAVAILABLE, saying how long kmsctl tried.
  grpc::Status GaveUp(const grpc::Status& last) const;

 private:
  const bool mutating_;
  const RetryPolicy& policy_;
  const absl::Time start_ = absl::Now();
  const absl::Time deadline_;
  Backoff backoff_;
  absl::Duration mutating_backoff_;
  int attempts_ = 1;
};

class ProgressPrinter;  // output.h

// One command's conversation with the orchestrator: calls with deadlines and retries, following
// an operation, printing results (text or JSON) to `out` and diagnostics to `err`, and the exit
// code for a failed call.
class Session {
 public:
  template <typename Request, typename Response>
  using Method = grpc::Status (v1::Orchestrator::StubInterface::*)(grpc::ClientContext*, const Request&, Response*);

  Session(const Invocation& invocation, v1::Orchestrator::StubInterface& stub, std::FILE* out, std::FILE* err,
          Interrupter& interrupter, const RetryPolicy& retry)
      : inv_(invocation), stub_(stub), out_(out), err_(err), interrupter_(interrupter), retry_(retry) {}

  const Invocation& invocation() const { return inv_; }

  // A unary call retried on UNAVAILABLE (the orchestrator restarting, or a connection attempt
  // that failed): a query (idempotent) until --rpc-timeout is spent, a call that starts an
  // operation a few times (safe: it carries its request id). See UnaryRetry.
  template <typename Request, typename Response>
  grpc::Status Unary(Method<Request, Response> method, const Request& request, Response* response) {
    UnaryRetry retry(mutating(), inv_.rpc_timeout, retry_);
    for (;;) {
      const absl::Time attempt_deadline = std::min(retry.deadline(), absl::Now() + inv_.rpc_timeout);
      grpc::Status s = CallOnce(method, request, response, attempt_deadline);
      if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && absl::Now() >= attempt_deadline) {
        return NoAnswer(s);
      }
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE) return s;
      std::optional<absl::Duration> delay = retry.Next();
      if (!delay.has_value()) return retry.GaveUp(s);
      if (!interrupter_.Sleep(*delay)) return grpc::Status(grpc::StatusCode::CANCELLED, "interrupted");
    }
  }

  // Starts an operation (`what` names it in errors), then follows it unless --no-wait.
  template <typename Request>
  int Start(Method<Request, v1::Operation> method, const Request& request, const std::string& what) {
    PrintRequestId();
    v1::Operation op;
    grpc::Status s = Unary(method, request, &op);
    if (!s.ok()) return Fail(s, what);
    return Started(op);
  }

  // Follows an operation (ops watch): with --json, one OperationEvent per line.
  int Watch(const std::string& id) { return Follow(id, std::nullopt, inv_.json); }

  // Prints a response: its JSON, or the text.
  void Print(const google::protobuf::Message& m, const std::string& text);
  // Reports a failed call (`what` names it); returns the exit code.
  int Fail(const grpc::Status& s, const std::string& what);

 private:
  // One unary call, with the rpc deadline (not past `deadline`).
  template <typename Request, typename Response>
  grpc::Status CallOnce(Method<Request, Response> method, const Request& request, Response* response,
                        absl::Time deadline = absl::InfiniteFuture()) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(std::min(deadline, absl::Now() + inv_.rpc_timeout)));
    interrupter_.SetCall(&context);
    grpc::Status s = (stub_.*method)(&context, request, response);
    interrupter_.SetCall(nullptr);
    return s;
  }

  struct WatchRound;
  bool mutating() const;
  // A call whose --rpc-timeout ran out: DEADLINE_EXCEEDED naming the address.
  grpc::Status NoAnswer(const grpc::Status& s) const;
  void PrintRequestId();
  int Started(const v1::Operation& op);
  int Follow(const std::string& id, const std::optional<std::vector<v1::EnvVar>>& env_vars, bool json_events);
  WatchRound WatchOnce(const v1::WatchOperationRequest& request, absl::Time deadline, bool json_events,
                       ProgressPrinter& printer);
  std::optional<grpc::Status> SupplyUntil(const v1::SupplyEnvVarsRequest& request, absl::Time deadline);
  int Supply(const v1::Operation& op, const std::vector<v1::EnvVar>& env_vars, absl::Time deadline);
  int TimedOut(const std::string& id, const std::optional<v1::Operation>& last, bool json_events);
  int Finish(const v1::Operation& op, bool json_events);
  void RetryHint(const char* lead);

  const Invocation& inv_;
  v1::Orchestrator::StubInterface& stub_;
  std::FILE* out_;
  std::FILE* err_;
  Interrupter& interrupter_;
  const RetryPolicy retry_;
};

// Runs the command (not help) through its table entry's run function; results to `out`,
// diagnostics to `err`. Returns the exit code.
int Run(const Invocation& invocation, v1::Orchestrator::StubInterface& stub, std::FILE* out, std::FILE* err,
        Interrupter& interrupter, const RetryPolicy& retry = RetryPolicy());

}  // namespace kmsctl

#endif  // ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_RUNNER_H_
