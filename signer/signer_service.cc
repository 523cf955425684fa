#include "signer/signer_service.h"

#include "rpc/reactors.h"

namespace signer {

namespace v1 = onchainkms::signer::v1;

namespace {
constexpr char kIssue[] = "issue #4, the signer";
}  // namespace

grpc::ServerUnaryReactor* SignerService::ListKeys(grpc::CallbackServerContext* context,
                                                  const v1::ListKeysRequest*, v1::ListKeysResponse*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("ListKeys", kIssue));
}

grpc::ServerUnaryReactor* SignerService::GetKey(grpc::CallbackServerContext* context,
                                                const v1::GetKeyRequest*, v1::Key*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("GetKey", kIssue));
}

grpc::ServerUnaryReactor* SignerService::SignDeployAndRegisterApp(grpc::CallbackServerContext* context,
                                                                  const v1::SignDeployAndRegisterAppRequest*,
                                                                  v1::SignedTransaction*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("SignDeployAndRegisterApp", kIssue));
}

grpc::ServerUnaryReactor* SignerService::SignAddComposeHash(grpc::CallbackServerContext* context,
                                                            const v1::SignAddComposeHashRequest*,
                                                            v1::SignedTransaction*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("SignAddComposeHash", kIssue));
}

grpc::ServerUnaryReactor* SignerService::SignTransaction(grpc::CallbackServerContext* context,
                                                         const v1::SignTransactionRequest*,
                                                         v1::SignedTransaction*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("SignTransaction", kIssue));
}

grpc::ServerUnaryReactor* SignerService::SignMessage(grpc::CallbackServerContext* context,
                                                     const v1::SignMessageRequest*,
                                                     v1::SignMessageResponse*) {
  return rpc::FinishUnary(context, rpc::Unimplemented("SignMessage", kIssue));
}

}  // namespace signer
