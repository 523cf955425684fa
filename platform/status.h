// The one place where absl::Status and grpc::Status meet. Both use the canonical code numbers
// (google.rpc.Code), so the mapping keeps the code and the message unchanged.
#ifndef ONCHAIN_KMS_PLATFORM_STATUS_H_
#define ONCHAIN_KMS_PLATFORM_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace platform {

// For a server handler's result: same code, same message. OK maps to grpc::Status::OK.
grpc::Status ToGrpcStatus(const absl::Status& status);

// For a client's view of a call's result (e.g. the orchestrator calling the signer).
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_STATUS_H_
