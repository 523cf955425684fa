// Small helpers for callback-API handlers that answer at once (validation errors, UNIMPLEMENTED).
#ifndef ONCHAIN_KMS_PLATFORM_REACTORS_H_
#define ONCHAIN_KMS_PLATFORM_REACTORS_H_

#include <utility>

#include "absl/status/status.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"
#include "platform/status.h"

namespace platform {

// Finishes a unary callback RPC with `status` and returns its reactor:
//   return platform::FinishUnary(context, absl::InvalidArgumentError("nonce: required"));
inline grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

inline grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context, const absl::Status& status) {
  return FinishUnary(context, ToGrpcStatus(status));
}

// A server-streaming reactor that writes nothing and ends with `status`.
template <typename Response>
class FinishedWriteReactor final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit FinishedWriteReactor(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

// Ends a server-streaming callback RPC at once with `status`:
//   return platform::FinishStream<OperationEvent>(grpc::Status(grpc::StatusCode::NOT_FOUND, "..."));
template <typename Response>
grpc::ServerWriteReactor<Response>* FinishStream(grpc::Status status) {
  return new FinishedWriteReactor<Response>(std::move(status));
}

// The UNIMPLEMENTED status of an RPC whose implementation is still to come, naming where.
inline grpc::Status Unimplemented(const char* method, const char* where) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, std::string(method) + " is not implemented yet (" + where + ")");
}

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_REACTORS_H_
