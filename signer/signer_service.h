// The gRPC face of the signer: onchainkms.signer.v1.Signer on the callback API. Each handler
// authorises the caller through the transport (SO_PEERCRED uid or mTLS allowlist), then hands
// the request to the engine, which finishes the call — possibly from the group-commit committer
// that made its record durable or the record's slot hand-over thread, so no gRPC thread waits on
// another request for the same nonce, nor on a commit of other requests' records. One exception,
// chosen for latency: a lone record (no commit running, nothing queued) is written on the
// request's own thread (GroupCommit), which then waits for that one fsync.
#ifndef ONCHAIN_KMS_SIGNER_SIGNER_SERVICE_H_
#define ONCHAIN_KMS_SIGNER_SIGNER_SERVICE_H_

#include <memory>

#include "onchainkms/signer/v1/signer.grpc.pb.h"
#include "platform/transport/authenticator.h"
#include "signer/arena_messages.h"
#include "signer/engine/engine.h"

namespace signer {

class SignerService final : public onchainkms::signer::v1::Signer::CallbackService {
 public:
  // `auth` (the transport that serves this service) authorises every caller.
  // SignBatch's request and response live on one protobuf arena per call (arena_messages.h).
  SignerService(engine::Engine* engine, const platform::Authenticator& auth) : engine_(engine), auth_(auth) {
    SetMessageAllocatorFor_SignBatch(&batch_messages_);
  }

  grpc::ServerUnaryReactor* ListKeys(grpc::CallbackServerContext* context,
                                     const onchainkms::signer::v1::ListKeysRequest* request,
                                     onchainkms::signer::v1::ListKeysResponse* response) override;
  grpc::ServerUnaryReactor* GetKey(grpc::CallbackServerContext* context,
                                   const onchainkms::signer::v1::GetKeyRequest* request,
                                   onchainkms::signer::v1::Key* response) override;
  grpc::ServerUnaryReactor* SignDeployAndRegisterApp(
      grpc::CallbackServerContext* context, const onchainkms::signer::v1::SignDeployAndRegisterAppRequest* request,
      onchainkms::signer::v1::SignedTransaction* response) override;
  grpc::ServerUnaryReactor* SignAddComposeHash(grpc::CallbackServerContext* context,
                                               const onchainkms::signer::v1::SignAddComposeHashRequest* request,
                                               onchainkms::signer::v1::SignedTransaction* response) override;
  grpc::ServerUnaryReactor* SignAppCall(grpc::CallbackServerContext* context,
                                        const onchainkms::signer::v1::SignAppCallRequest* request,
                                        onchainkms::signer::v1::SignedTransaction* response) override;
  grpc::ServerUnaryReactor* SignTransaction(grpc::CallbackServerContext* context,
                                            const onchainkms::signer::v1::SignTransactionRequest* request,
                                            onchainkms::signer::v1::SignedTransaction* response) override;
  grpc::ServerUnaryReactor* SignMessage(grpc::CallbackServerContext* context,
                                        const onchainkms::signer::v1::SignMessageRequest* request,
                                        onchainkms::signer::v1::SignMessageResponse* response) override;
  // Each item goes through the engine as its own request; the reply leaves once the last item
  // is decided (its record durable and audited), from the thread that decided it. With
  // stop_sender_at_refusal, a sender's transaction items start in order and stop at a refusal
  // (SenderInOrder in signer_service.cc).
  grpc::ServerUnaryReactor* SignBatch(grpc::CallbackServerContext* context,
                                      const onchainkms::signer::v1::SignBatchRequest* request,
                                      onchainkms::signer::v1::SignBatchResponse* response) override;

 private:
  // Runs `call(caller, done)` if the caller is authorised, else finishes with the refusal.
  template <typename Call>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* context, const char* method, Call call);

  struct BatchCall;
  struct SenderInOrder;
  // Starts one item of a batch; `done` receives its outcome.
  void StartItem(const engine::Caller& caller, const onchainkms::signer::v1::SignBatchItem& item,
                 onchainkms::signer::v1::SignBatchResult* result, engine::Engine::StopAtRefusal stop_at_refusal,
                 engine::Done done);
  // Item i of `call`, a transaction of `sender`: started once the sender's earlier items allow.
  void QueueInOrder(const std::shared_ptr<BatchCall>& call, const std::shared_ptr<SenderInOrder>& sender, int i);
  // Starts `sender`'s queued items (this thread is its starter) until one waits for its nonce.
  void StartInOrder(const std::shared_ptr<BatchCall>& call, const std::shared_ptr<SenderInOrder>& sender);
  // Item i of `sender` is decided: stops the sender if refused, resumes it if it waited for it.
  void InOrderItemDecided(const std::shared_ptr<BatchCall>& call, const std::shared_ptr<SenderInOrder>& sender, int i,
                          bool* decided, absl::Status status);

  engine::Engine* engine_;
  const platform::Authenticator& auth_;
  ArenaMessages<onchainkms::signer::v1::SignBatchRequest, onchainkms::signer::v1::SignBatchResponse> batch_messages_;
};

}  // namespace signer

#endif  // ONCHAIN_KMS_SIGNER_SIGNER_SERVICE_H_
