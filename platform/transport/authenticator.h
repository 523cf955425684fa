// The one question a service asks its transport at the start of every call: who is calling?
// platform::Transport answers it; a test can answer it without sockets.
#ifndef ONCHAIN_KMS_PLATFORM_TRANSPORT_AUTHENTICATOR_H_
#define ONCHAIN_KMS_PLATFORM_TRANSPORT_AUTHENTICATOR_H_

#include "absl/status/statusor.h"
#include "grpcpp/support/server_callback.h"
#include "platform/transport/caller.h"

namespace platform {

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // The caller of the call, UNAUTHENTICATED when it proved no identity, PERMISSION_DENIED when
  // its identity is not on the allowlist. Messages name no secret.
  virtual absl::StatusOr<Caller> Authenticate(const grpc::CallbackServerContext& context) const = 0;
};

}  // namespace platform

#endif  // ONCHAIN_KMS_PLATFORM_TRANSPORT_AUTHENTICATOR_H_
