#include "signer/signer_service.h"

#include <atomic>
#include <memory>

#include "absl/strings/str_cat.h"
#include "platform/status.h"
#include "signer/equivocation/group_commit.h"

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

namespace {

// The most items one SignBatch call may carry (signer.proto).
constexpr int kMaxBatchItems = 256;

absl::Status CheckBatch(const v1::SignBatchRequest& request) {
  if (request.items_size() == 0) return absl::InvalidArgumentError("items: required, 1 to 256 items");
  if (request.items_size() > kMaxBatchItems) {
    return absl::InvalidArgumentError(
        absl::StrCat("items: ", request.items_size(), " items, at most ", kMaxBatchItems, " per call"));
  }
  for (int i = 0; i < request.items_size(); ++i) {
    if (request.items(i).request_case() == v1::SignBatchItem::REQUEST_NOT_SET) {
      return absl::InvalidArgumentError(absl::StrCat("items[", i,
                                                     "]: no request set (one of deploy_and_register_app, "
                                                     "add_compose_hash, app_call, transaction, message)"));
    }
  }
  return absl::OkStatus();
}

// The items still undecided of one SignBatch call; the last one to be decided finishes the call.
struct BatchInFlight {
  std::atomic<int> undecided;
  engine::Done finish;  // the call's
};

}  // namespace

void SignerService::StartItem(const engine::Caller& c, const v1::SignBatchItem& item, v1::SignBatchResult* result,
                              engine::Done done) {
  switch (item.request_case()) {
    case v1::SignBatchItem::kDeployAndRegisterApp:
      return engine_->SignDeployAndRegisterApp(c, item.deploy_and_register_app(), result->mutable_signed_transaction(),
                                               std::move(done));
    case v1::SignBatchItem::kAddComposeHash:
      return engine_->SignAddComposeHash(c, item.add_compose_hash(), result->mutable_signed_transaction(),
                                         std::move(done));
    case v1::SignBatchItem::kTransaction:
      return engine_->SignTransaction(c, item.transaction(), result->mutable_signed_transaction(), std::move(done));
    case v1::SignBatchItem::kMessage:
      return engine_->SignMessage(c, item.message(), result->mutable_signed_message(), std::move(done));
    case v1::SignBatchItem::kAppCall:
      return engine_->SignAppCall(c, item.app_call(), result->mutable_signed_transaction(), std::move(done));
    case v1::SignBatchItem::REQUEST_NOT_SET:
      break;
  }
  done(absl::InternalError("unchecked batch item"));  // CheckBatch refuses these first
}

grpc::ServerUnaryReactor* SignerService::SignBatch(grpc::CallbackServerContext* context,
                                                   const v1::SignBatchRequest* request,
                                                   v1::SignBatchResponse* response) {
  return Serve(context, "SignBatch", [&](const engine::Caller& c, engine::Done finish) {
    if (absl::Status s = CheckBatch(*request); !s.ok()) {
      engine_->RefuseCall(c, "SignBatch", s);
      return finish(s);
    }
    // Every result exists before the first item starts: items finish on other threads, each
    // filling only its own result, and the repeated field is never resized meanwhile.
    const int n = request->items_size();
    for (int i = 0; i < n; ++i) response->add_results();
    auto batch = std::make_shared<BatchInFlight>();
    batch->undecided.store(n);
    batch->finish = std::move(finish);
    // Once the last item is started, the call may finish (and `request` go) on another thread:
    // nothing of the call is read after it. The items' records share one commit, written here
    // once every item is started (not one write per item: group_commit.h).
    equivocation::GroupCommit::BatchOnThisThread one_commit;
    for (int i = 0; i < n; ++i) {
      v1::SignBatchResult* result = response->mutable_results(i);
      StartItem(c, request->items(i), result, [batch, result](absl::Status s) {
        result->set_code(static_cast<int32_t>(s.code()));
        if (!s.ok()) {
          result->set_message(std::string(s.message()));
          result->clear_result();
        }
        // acq_rel: the last item sees every other item's result before the reply is sent.
        if (batch->undecided.fetch_sub(1, std::memory_order_acq_rel) == 1) batch->finish(absl::OkStatus());
      });
    }
  });
}

}  // namespace signer
