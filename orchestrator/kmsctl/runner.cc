#include "orchestrator/kmsctl/runner.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/grpc.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "orchestrator/kmsctl/backoff.h"
#include "orchestrator/kmsctl/command_spec.h"
#include "orchestrator/kmsctl/exit_codes.h"
#include "orchestrator/kmsctl/output.h"
#include "platform/status_macros.h"

namespace kmsctl {

void Interrupter::SetCall(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  call_ = context;
  if (interrupted_ && call_ != nullptr) call_->TryCancel();
}

void Interrupter::Interrupt() {
  absl::MutexLock lock(&mu_);
  interrupted_ = true;
  if (call_ != nullptr) call_->TryCancel();
}

bool Interrupter::interrupted() const {
  absl::MutexLock lock(&mu_);
  return interrupted_;
}

bool Interrupter::Sleep(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&interrupted_), d);
  return !interrupted_;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const Connection& c, Io& io) {
  grpc::ChannelArguments args;
  args.SetUserAgentPrefix("kmsctl/1");
  // gRPC's own reconnect back-off (1 s growing to 120 s by default) would leave kmsctl failing
  // fast long after a restarted orchestrator is back; cap it like kmsctl's (RetryPolicy).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Despite its name, the shortest time one connection attempt (TCP connect, TLS handshake,
  // HTTP/2 settings) is given before gRPC cuts it ("tcp handshaker shutdown"). It was 100 ms,
  // which a TLS handshake on a loaded machine overran; a call waits for a connection in progress
  // anyway, so this is gRPC's default, bounded in effect by each call's deadline.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20000);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (c.tls) {
    grpc::SslCredentialsOptions ssl;
    auto read = [&](const std::string& path, const char* flag, std::string* into) -> absl::Status {
      if (path.empty()) return absl::OkStatus();
      absl::StatusOr<std::string> content = io.ReadFile(path);
      if (!content.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path, ": ", content.status().message()));
      }
      *into = *std::move(content);
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(read(c.tls_ca_file, "--tls-ca", &ssl.pem_root_certs));
    RETURN_IF_ERROR(read(c.tls_cert_file, "--tls-cert", &ssl.pem_cert_chain));
    RETURN_IF_ERROR(read(c.tls_key_file, "--tls-key", &ssl.pem_private_key));
    credentials = grpc::SslCredentials(ssl);
    if (!c.tls_server_name.empty()) args.SetSslTargetNameOverride(c.tls_server_name);
    if (!c.token_file.empty()) {
      std::string token;
      RETURN_IF_ERROR(read(c.token_file, "--token-file", &token));
      token = std::string(absl::StripAsciiWhitespace(token));
      if (token.empty() || token.find_first_of(" \t\r\n") != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("--token-file: ", c.token_file, " must hold one token"));
      }
      credentials = grpc::CompositeChannelCredentials(credentials, grpc::AccessTokenCredentials(token));
    }
  }
  return grpc::CreateCustomChannel(c.address, credentials, args);
}

UnaryRetry::UnaryRetry(bool mutating, absl::Duration rpc_timeout, const RetryPolicy& policy)
    : mutating_(mutating),
      policy_(policy),
      deadline_(mutating ? absl::InfiniteFuture() : start_ + rpc_timeout),
      backoff_(policy.follow_first_backoff, policy.follow_max_backoff),
      mutating_backoff_(policy.first_backoff) {}

std::optional<absl::Duration> UnaryRetry::Next() {
  absl::Duration delay;
  if (mutating_) {
    if (attempts_ >= policy_.unary_attempts) return std::nullopt;
    delay = mutating_backoff_;
    mutating_backoff_ = std::min(mutating_backoff_ * 2, policy_.max_backoff);
  } else {
    // The last attempt comes just before the deadline, with time left for connecting.
    const absl::Duration left = deadline_ - absl::Now() - policy_.follow_first_backoff;
    if (left <= absl::ZeroDuration()) return std::nullopt;
    delay = std::min(backoff_.Next(), left);
  }
  ++attempts_;
  return delay;
}

grpc::Status UnaryRetry::GaveUp(const grpc::Status& last) const {
  return grpc::Status(
      last.error_code(),
      absl::StrCat(last.error_message(), " (gave up after ", attempts_, " attempts in ",
                   absl::FormatDuration(absl::Trunc(absl::Now() - start_, absl::Milliseconds(100))), ")"));
}

namespace {

bool IsTerminal(v1::OperationState s) {
  return s == v1::OPERATION_STATE_SUCCEEDED || s == v1::OPERATION_STATE_FAILED || s == v1::OPERATION_STATE_CANCELLED;
}

std::string FormatDelay(absl::Duration d) { return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(1))); }

}  // namespace

void Session::Print(const google::protobuf::Message& m, const std::string& text) {
  if (inv_.json) {
    std::fprintf(out_, "%s\n", ToJson(m).c_str());
  } else {
    std::fputs(text.c_str(), out_);
  }
  std::fflush(out_);
}

grpc::Status Session::NoAnswer(const grpc::Status& s) const {
  return grpc::Status(s.error_code(), absl::StrCat("no answer from the orchestrator at ", inv_.connection.address,
                                                   " within --rpc-timeout=", absl::FormatDuration(inv_.rpc_timeout),
                                                   ": ", s.error_message()));
}

bool Session::mutating() const { return inv_.command != nullptr && inv_.command->mutating; }

int Session::Fail(const grpc::Status& s, const std::string& what) {
  const bool mutating = this->mutating();
  if (interrupter_.interrupted()) {
    std::fprintf(err_, "kmsctl: %s: interrupted\n", what.c_str());
    if (mutating) RetryHint("the request may or may not have been accepted; to find out, ");
    return kExitInterrupted;
  }
  std::string message = s.error_message();
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message = absl::StrCat("cannot reach the orchestrator at ", inv_.connection.address, ": ", message);
  }
  std::fprintf(err_, "kmsctl: %s: %s: %s\n", what.c_str(), StatusCodeName(s.error_code()).c_str(), message.c_str());
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE && mutating) {
    RetryHint("when it is back, ");
  } else if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
    std::fprintf(err_, "kmsctl: request id %s belongs to a different request; use a new --request-id\n",
                 inv_.request_id.c_str());
  }
  return ExitCodeForStatus(s.error_code());
}

void Session::RetryHint(const char* lead) {
  std::fprintf(err_, "kmsctl: %sretry with --request-id=%s (it never starts a second operation)\n", lead,
               inv_.request_id.c_str());
}

void Session::PrintRequestId() {
  if (!inv_.request_id_generated) return;
  std::fprintf(err_, "kmsctl: request id %s (retry with --request-id=%s)\n", inv_.request_id.c_str(),
               inv_.request_id.c_str());
}

int Session::Started(const v1::Operation& op) {
  if (!inv_.wait) {
    Print(op, absl::StrCat(FormatOperation(op), "follow it: kmsctl ops watch ", op.id(), "\n"));
    return kExitOk;
  }
  if (IsTerminal(op.state())) {
    Print(op, FormatOperation(op));
    return ExitCodeForState(op.state());
  }
  return Follow(op.id(), inv_.env_vars, /*json_events=*/false);
}

// One WatchOperation stream, read until it ends or the operation waits for input.
struct Session::WatchRound {
  grpc::Status status;
  bool got_event = false;
  std::optional<v1::Operation> last;
};

Session::WatchRound Session::WatchOnce(const v1::WatchOperationRequest& request, absl::Time deadline, bool json_events,
                                       ProgressPrinter& printer) {
  WatchRound round;
  grpc::ClientContext context;
  if (deadline != absl::InfiniteFuture()) context.set_deadline(absl::ToChronoTime(deadline));
  interrupter_.SetCall(&context);
  std::unique_ptr<grpc::ClientReaderInterface<v1::OperationEvent>> reader = stub_.WatchOperation(&context, request);
  v1::OperationEvent event;
  while (reader->Read(&event)) {
    round.got_event = true;
    round.last = event.operation();
    if (json_events) {
      std::fprintf(out_, "%s\n", ToJson(event).c_str());
    } else if (!inv_.json) {
      std::fputs(printer.OnEvent(event).c_str(), out_);
    }
    std::fflush(out_);
    if (round.last->state() == v1::OPERATION_STATE_WAITING_FOR_INPUT) {
      context.TryCancel();  // stop here: supply the values, or report
      break;
    }
  }
  round.status = reader->Finish();
  interrupter_.SetCall(nullptr);
  return round;
}

// Follows an operation with WatchOperation until it ends, reconnecting while the orchestrator
// is lost, for as long as --timeout allows. With `env_vars` (the command's own), a
// WAITING_FOR_INPUT operation gets them through SupplyEnvVars once, and is followed on.
int Session::Follow(const std::string& id, const std::optional<std::vector<v1::EnvVar>>& env_vars, bool json_events) {
  const absl::Time deadline =
      inv_.timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + inv_.timeout;
  ProgressPrinter printer;
  std::optional<v1::Operation> last;
  bool supplied = false;
  Backoff backoff(retry_.follow_first_backoff, retry_.follow_max_backoff);
  v1::WatchOperationRequest request;
  request.set_operation_id(id);
  for (;;) {
    WatchRound round = WatchOnce(request, deadline, json_events, printer);
    if (round.last.has_value()) last = round.last;
    if (round.got_event) backoff.Reset();
    if (interrupter_.interrupted()) {
      std::fprintf(err_, "kmsctl: interrupted; operation %s goes on in the orchestrator: kmsctl ops watch %s\n",
                   id.c_str(), id.c_str());
      return kExitInterrupted;
    }
    if (last.has_value() && IsTerminal(last->state())) return Finish(*last, json_events);
    if (last.has_value() && last->state() == v1::OPERATION_STATE_WAITING_FOR_INPUT) {
      if (!env_vars.has_value() || supplied) return Finish(*last, json_events);
      if (int code = Supply(*last, *env_vars, deadline); code != kExitOk) return code;
      supplied = true;
      continue;
    }
    const grpc::Status& status = round.status;
    if (!status.ok() && status.error_code() != grpc::StatusCode::UNAVAILABLE) {
      if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && absl::Now() >= deadline) {
        return TimedOut(id, last, json_events);
      }
      return Fail(status, "watching operation " + id);
    }
    // UNAVAILABLE (the orchestrator restarting), or a stream that ended early: watch again.
    const absl::Duration delay = backoff.Next();
    if (absl::Now() + delay >= deadline) return TimedOut(id, last, json_events);
    if (!inv_.json) {
      std::fprintf(err_, "kmsctl: lost the watch of %s (%s); reconnecting in %s\n", id.c_str(),
                   status.ok() ? "stream ended" : status.error_message().c_str(), FormatDelay(delay).c_str());
    }
    interrupter_.Sleep(delay);  // an interrupt is reported at the top of the next round
  }
}

// SupplyEnvVars while following: retried on UNAVAILABLE (the orchestrator restarting) with
// back-off; nullopt once `deadline` (the --timeout) leaves no time to retry.
std::optional<grpc::Status> Session::SupplyUntil(const v1::SupplyEnvVarsRequest& request, absl::Time deadline) {
  Backoff backoff(retry_.follow_first_backoff, retry_.follow_max_backoff);
  for (;;) {
    v1::Operation response;
    grpc::Status s = CallOnce(&v1::Orchestrator::StubInterface::SupplyEnvVars, request, &response, deadline);
    if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && absl::Now() >= deadline) return std::nullopt;
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE) return s;
    const absl::Duration delay = backoff.Next();
    if (absl::Now() + delay >= deadline) return std::nullopt;
    if (!inv_.json) {
      std::fprintf(err_, "kmsctl: lost the orchestrator while supplying env vars to %s (%s); retrying in %s\n",
                   request.operation_id().c_str(), s.error_message().c_str(), FormatDelay(delay).c_str());
    }
    if (!interrupter_.Sleep(delay)) return grpc::Status(grpc::StatusCode::CANCELLED, "interrupted");
  }
}

// Sends the command's own env values to an operation that waits for them (the orchestrator
// restarted and lost them), retrying while it is still restarting, until `deadline`.
int Session::Supply(const v1::Operation& op, const std::vector<v1::EnvVar>& env_vars, absl::Time deadline) {
  v1::SupplyEnvVarsRequest request;
  // Derived from the command's request id, so that a retried kmsctl supplies idempotently.
  request.set_request_id(absl::StrCat(inv_.request_id.substr(0, 121), ":supply"));
  request.set_operation_id(op.id());
  for (const v1::EnvVar& v : env_vars) *request.add_env_vars() = v;
  if (!inv_.json) {
    std::fprintf(out_, "  the orchestrator lost the env values in a restart (%s); sending them again\n",
                 op.input_request().reason().c_str());
    std::fflush(out_);
  }
  std::optional<grpc::Status> s = SupplyUntil(request, deadline);
  if (!s.has_value()) return TimedOut(op.id(), op, /*json_events=*/false);
  if (!s->ok()) return Fail(*s, "supplying env vars to " + op.id());
  return kExitOk;
}

int Session::TimedOut(const std::string& id, const std::optional<v1::Operation>& last, bool json_events) {
  std::fprintf(err_, "kmsctl: timed out following operation %s (%s); it goes on: kmsctl ops watch %s\n", id.c_str(),
               last.has_value() ? ShortName(last->state()).c_str() : "state unknown", id.c_str());
  if (inv_.json && !json_events && last.has_value()) std::fprintf(out_, "%s\n", ToJson(*last).c_str());
  return kExitTimeout;
}

int Session::Finish(const v1::Operation& op, bool json_events) {
  if (inv_.json) {
    if (!json_events) std::fprintf(out_, "%s\n", ToJson(op).c_str());
  } else {
    std::fputs(FormatOutcome(op).c_str(), out_);
  }
  std::fflush(out_);
  return ExitCodeForState(op.state());
}

int Run(const Invocation& invocation, v1::Orchestrator::StubInterface& stub, std::FILE* out, std::FILE* err,
        Interrupter& interrupter, const RetryPolicy& retry) {
  if (invocation.command == nullptr || invocation.command->run == nullptr) return kExitUsage;
  Session session(invocation, stub, out, err, interrupter, retry);
  return invocation.command->run(session);
}

}  // namespace kmsctl
