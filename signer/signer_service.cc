#include "signer/signer_service.h"

#include "platform/status.h"

namespace signer {

namespace v1 = onchainkms::signer::v1;

boost::json::object CallerJson(const transport::CallerIdentity& id) {
  boost::json::object o;
  switch (id.kind) {
    case transport::CallerIdentity::Kind::kUnixPeer:
      o["transport"] = "unix";
      o["uid"] = static_cast<int64_t>(id.uid);
      o["gid"] = static_cast<int64_t>(id.gid);
      o["pid"] = static_cast<int64_t>(id.pid);
      break;
    case transport::CallerIdentity::Kind::kTlsClient:
      o["transport"] = "mtls";
      o["cert_sha256"] = id.cert_sha256;
      o["subject"] = id.subject;
      o["peer"] = id.peer;
      break;
    case transport::CallerIdentity::Kind::kInsecureLoopback:
      o["transport"] = "insecure-loopback";
      o["peer"] = id.peer;
      break;
  }
  return o;
}

template <typename Call>
grpc::ServerUnaryReactor* SignerService::Serve(grpc::CallbackServerContext* context, const char* method, Call call) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const transport::Transport* t = transport_.load();
  if (t == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the signer is starting"));
    return reactor;
  }
  absl::StatusOr<transport::CallerIdentity> who = t->Authorize(*context);
  if (!who.ok()) {
    boost::json::object caller;
    caller["peer"] = context->peer();
    engine_->RecordRefusedCall(caller, method, who.status());
    reactor->Finish(platform::ToGrpcStatus(who.status()));
    return reactor;
  }
  call(CallerJson(*who), [reactor](absl::Status s) { reactor->Finish(platform::ToGrpcStatus(s)); });
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
