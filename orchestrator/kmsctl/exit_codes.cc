#include "orchestrator/kmsctl/exit_codes.h"

#include <iterator>

namespace kmsctl {

namespace v1 = ::onchainkms::orchestrator::v1;

std::string StatusCodeName(int code) {
  static constexpr const char* kNames[] = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(std::size(kNames))) return kNames[code];
  return "code " + std::to_string(code);
}

int ExitCodeForStatus(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return kExitOk;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return kExitInvalidArgument;
    case grpc::StatusCode::NOT_FOUND:
      return kExitNotFound;
    case grpc::StatusCode::UNAVAILABLE:
      return kExitUnavailable;
    case grpc::StatusCode::ALREADY_EXISTS:
      return kExitAlreadyExists;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return kExitFailedPrecondition;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return kExitPermissionDenied;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kExitTimeout;
    case grpc::StatusCode::CANCELLED:
      return kExitInterrupted;
    default:
      return kExitError;
  }
}

int ExitCodeForState(v1::OperationState state) {
  switch (state) {
    case v1::OPERATION_STATE_SUCCEEDED:
      return kExitOk;
    case v1::OPERATION_STATE_FAILED:
      return kExitOperationFailed;
    case v1::OPERATION_STATE_CANCELLED:
      return kExitOperationCancelled;
    case v1::OPERATION_STATE_WAITING_FOR_INPUT:
      return kExitWaitingForInput;
    default:  // PENDING, RUNNING: still going
      return kExitTimeout;
  }
}

}  // namespace kmsctl
