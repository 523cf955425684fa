#include "signer/signer_service.h"

#include "platform/status.h"

namespace signer {

namespace v1 = onchainkms::signer::v1;

template <typename Call>
grpc::ServerUnaryReactor* SignerService::Serve(grpc::CallbackServerContext* context, const char* method, Call call) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<platform::Caller> who = auth_.Authenticate(*context);
  if (!who.ok()) {
    engine_->RecordRefusedCall(context->peer(), method, who.status());
    reactor->Finish(platform::ToGrpcStatus(who.status()));
    return reactor;
  }
  call(*who, [reactor](absl::Status s) { reactor->Finish(platform::ToGrpcStatus(s)); });
  return reactor;
}

grpc::ServerUnaryReactor* SignerService::ListKeys(grpc::CallbackServerContext* context,
                                                  const v1::ListKeysRequest* request, v1::ListKeysResponse* response) {
  return Serve(context, "ListKeys", [&](const engine::Caller& c, engine::Done done) {
    engine_->ListKeys(c, *request, response, std::move(done));
  });
}

grpc::ServerUnaryReactor* SignerService::GetKey(grpc::CallbackServerContext* context, const v1::GetKeyRequest* request,
                                                v1::Key* response) {
  return Serve(context, "GetKey", [&](const engine::Caller& c, engine::Done done) {
    engine_->GetKey(c, *request, response, std::move(done));
  });
}

grpc::ServerUnaryReactor* SignerService::SignDeployAndRegisterApp(grpc::CallbackServerContext* context,
                                                                  const v1::SignDeployAndRegisterAppRequest* request,
                                                                  v1::SignedTransaction* response) {
  return Serve(context, "SignDeployAndRegisterApp", [&](const engine::Caller& c, engine::Done done) {
    engine_->SignDeployAndRegisterApp(c, *request, response, std::move(done));
  });
}

grpc::ServerUnaryReactor* SignerService::SignAddComposeHash(grpc::CallbackServerContext* context,
                                                            const v1::SignAddComposeHashRequest* request,
                                                            v1::SignedTransaction* response) {
  return Serve(context, "SignAddComposeHash", [&](const engine::Caller& c, engine::Done done) {
    engine_->SignAddComposeHash(c, *request, response, std::move(done));
  });
}

grpc::ServerUnaryReactor* SignerService::SignAppCall(grpc::CallbackServerContext* context,
                                                     const v1::SignAppCallRequest* request,
                                                     v1::SignedTransaction* response) {
  return Serve(context, "SignAppCall", [&](const engine::Caller& c, engine::Done done) {
    engine_->SignAppCall(c, *request, response, std::move(done));
  });
}

grpc::ServerUnaryReactor* SignerService::SignTransaction(grpc::CallbackServerContext* context,
                                                         const v1::SignTransactionRequest* request,
                                                         v1::SignedTransaction* response) {
  return Serve(context, "SignTransaction", [&](const engine::Caller& c, engine::Done done) {
    engine_->SignTransaction(c, *request, response, std::move(done));
  });
}

grpc::ServerUnaryReactor* SignerService::SignMessage(grpc::CallbackServerContext* context,
                                                     const v1::SignMessageRequest* request,
                                                     v1::SignMessageResponse* response) {
  return Serve(context, "SignMessage", [&](const engine::Caller& c, engine::Done done) {
    engine_->SignMessage(c, *request, response, std::move(done));
  });
}

}  // namespace signer
