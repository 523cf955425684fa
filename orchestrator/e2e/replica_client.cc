#include "orchestrator/e2e/replica_client.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace orchestrator::e2e {
namespace {

bool Terminal(v1::OperationState s) {
  return s == v1::OPERATION_STATE_SUCCEEDED || s == v1::OPERATION_STATE_FAILED || s == v1::OPERATION_STATE_CANCELLED;
}

void SetDeadline(grpc::ClientContext& ctx, absl::Duration d) {
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(absl::ToInt64Milliseconds(d)));
}

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace

bool ReplicaDown(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         status.error_code() == grpc::StatusCode::CANCELLED;
}

template <typename Request>
absl::StatusOr<v1::Operation> ReplicaClient::Submit(Rpc<Request> rpc, const Request& request, int k) {
  const absl::Time until = absl::Now() + give_up_after_;
  grpc::Status last;
  for (int attempt = 0; absl::Now() < until; ++attempt) {
    const int replica = (k + attempt) % stack_.replicas();
    grpc::ClientContext ctx;
    SetDeadline(ctx, absl::Seconds(10));
    v1::Operation op;
    last = (stack_.stub(replica).*rpc)(&ctx, request, &op);
    if (last.ok()) return op;
    if (!ReplicaDown(last)) return FromGrpc(last);
    ++failovers_;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("request ", request.request_id(), ": no replica accepted it; last: ", last.error_message()));
}

absl::StatusOr<v1::Operation> ReplicaClient::Deploy(const v1::DeployCvmRequest& request, int k) {
  return Submit(&v1::Orchestrator::Stub::DeployCvm, request, k);
}

absl::StatusOr<v1::Operation> ReplicaClient::UpdateDockerCompose(const v1::UpdateDockerComposeRequest& request, int k) {
  return Submit(&v1::Orchestrator::Stub::UpdateDockerCompose, request, k);
}

absl::StatusOr<v1::Operation> ReplicaClient::SupplyEnvVars(const v1::SupplyEnvVarsRequest& request, int k) {
  return Submit(&v1::Orchestrator::Stub::SupplyEnvVars, request, k);
}

absl::StatusOr<v1::Operation> ReplicaClient::Get(const std::string& id, int replica, bool wait_for_ready) {
  grpc::ClientContext ctx;
  SetDeadline(ctx, absl::Seconds(5));
  ctx.set_wait_for_ready(wait_for_ready);
  v1::GetOperationRequest req;
  req.set_operation_id(id);
  v1::Operation op;
  grpc::Status s = stack_.stub(replica).GetOperation(&ctx, req, &op);
  if (!s.ok()) return FromGrpc(s);
  return op;
}

absl::StatusOr<v1::Operation> ReplicaClient::WaitFor(const std::string& id, int k, absl::Duration timeout,
                                                     v1::OperationState until) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<v1::Operation> op = absl::DeadlineExceededError("no answer");
  for (int replica = k % stack_.replicas(); absl::Now() < deadline;) {
    op = Get(id, replica);
    if (op.ok() && (Terminal(op->state()) || op->state() == until)) return op;
    if (!op.ok()) replica = (replica + 1) % stack_.replicas();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "operation ", id, " not finished in time; last: ", op.ok() ? op->ShortDebugString() : op.status().ToString()));
}

ReplicaClient::Watched ReplicaClient::Watch(const std::string& id, int replica, absl::Duration timeout) {
  Watched w;
  grpc::ClientContext ctx;
  SetDeadline(ctx, timeout);
  v1::WatchOperationRequest req;
  req.set_operation_id(id);
  auto reader = stack_.stub(replica).WatchOperation(&ctx, req);
  v1::OperationEvent ev;
  while (reader->Read(&ev)) {
    w.events.push_back(ev);
    // Waiting for input does not end a stream; a client stops watching to supply the values.
    if (ev.operation().state() == v1::OPERATION_STATE_WAITING_FOR_INPUT) ctx.TryCancel();
  }
  w.status = reader->Finish();
  return w;
}

}  // namespace orchestrator::e2e
