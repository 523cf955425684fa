#include "signer/signer_service.h"

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "chain/address.h"
#include "platform/status.h"
#include "signer/equivocation/group_commit.h"
#include "signer/equivocation/sender_stop.h"

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

// The (chain_id, from_address) of a transaction item, one key however the address is spelled;
// none for a message.
using SenderKey = std::pair<uint64_t, std::string>;
std::optional<SenderKey> SenderOf(const v1::SignBatchItem& item) {
  auto sender = [](const auto& r) {
    absl::StatusOr<chain::Address> from = chain::Address::Parse(r.from_address());
    return SenderKey{r.chain_id(), from.ok() ? from->Hex() : r.from_address()};
  };
  switch (item.request_case()) {
    case v1::SignBatchItem::kDeployAndRegisterApp:
      return sender(item.deploy_and_register_app());
    case v1::SignBatchItem::kAddComposeHash:
      return sender(item.add_compose_hash());
    case v1::SignBatchItem::kTransaction:
      return sender(item.transaction());
    case v1::SignBatchItem::kAppCall:
      return sender(item.app_call());
    case v1::SignBatchItem::kMessage:
    case v1::SignBatchItem::REQUEST_NOT_SET:
      break;
  }
  return std::nullopt;
}

}  // namespace

// One SignBatch call in flight; the last item decided finishes it.
struct SignerService::BatchCall {
  BatchCall(const engine::Caller& c, const v1::SignBatchRequest* req, v1::SignBatchResponse* resp, engine::Done f)
      : caller(c), request(req), response(resp), undecided(req->items_size()), finish(std::move(f)) {}

  void Decide(int i, const absl::Status& s) {
    v1::SignBatchResult* result = response->mutable_results(i);
    result->set_code(static_cast<int32_t>(s.code()));
    if (!s.ok()) {
      result->set_message(std::string(s.message()));
      result->clear_result();
    }
    // acq_rel: the last item sees every other item's result before the reply is sent.
    if (undecided.fetch_sub(1, std::memory_order_acq_rel) == 1) finish(absl::OkStatus());
  }

  const engine::Caller caller;  // a copy: an item held back may start after the handler returned
  const v1::SignBatchRequest* const request;
  v1::SignBatchResponse* const response;
  std::atomic<int> undecided;
  const engine::Done finish;
};

// stop_sender_at_refusal: one sender's transaction items, started in order. An item starts once
// the one before is decided or its record is queued for a commit: the commit writes a sender's
// records in order and leaves out those after a refusal it finds (the budgets of a shared record:
// equivocation/sender_stop.h). An item that waits for its nonce (another request holds it) is
// neither, and its refusal would come after the later items were recorded: the sender's later
// items then start once every item started before is decided. After a refusal the sender's
// remaining items are not started: ABORTED, no engine request, so no record and no audit.
struct SignerService::SenderInOrder {
  const std::shared_ptr<equivocation::SenderStop> stop = std::make_shared<equivocation::SenderStop>();
  std::mutex mu;
  std::deque<int> to_start;  // guarded by mu: its items not started yet, in order
  bool starting = false;     // guarded by mu: a thread is in StartInOrder for it
  bool waiting = false;      // guarded by mu: an item waits for its nonce; resume once undecided is 0
  int undecided = 0;         // guarded by mu: items started and not decided
};

void SignerService::StartItem(const engine::Caller& c, const v1::SignBatchItem& item, v1::SignBatchResult* result,
                              engine::Engine::StopAtRefusal stop, engine::Done done) {
  switch (item.request_case()) {
    case v1::SignBatchItem::kDeployAndRegisterApp:
      return engine_->SignDeployAndRegisterApp(c, item.deploy_and_register_app(), result->mutable_signed_transaction(),
                                               std::move(done), std::move(stop));
    case v1::SignBatchItem::kAddComposeHash:
      return engine_->SignAddComposeHash(c, item.add_compose_hash(), result->mutable_signed_transaction(),
                                         std::move(done), std::move(stop));
    case v1::SignBatchItem::kTransaction:
      return engine_->SignTransaction(c, item.transaction(), result->mutable_signed_transaction(), std::move(done),
                                      std::move(stop));
    case v1::SignBatchItem::kMessage:
      return engine_->SignMessage(c, item.message(), result->mutable_signed_message(), std::move(done));
    case v1::SignBatchItem::kAppCall:
      return engine_->SignAppCall(c, item.app_call(), result->mutable_signed_transaction(), std::move(done),
                                  std::move(stop));
    case v1::SignBatchItem::REQUEST_NOT_SET:
      break;
  }
  done(absl::InternalError("unchecked batch item"));  // CheckBatch refuses these first
}

void SignerService::QueueInOrder(const std::shared_ptr<BatchCall>& call, const std::shared_ptr<SenderInOrder>& sender,
                                 int i) {
  {
    std::lock_guard<std::mutex> lock(sender->mu);
    sender->to_start.push_back(i);
    if (sender->starting || sender->waiting) return;
    sender->starting = true;
  }
  StartInOrder(call, sender);
}

void SignerService::StartInOrder(const std::shared_ptr<BatchCall>& call, const std::shared_ptr<SenderInOrder>& sender) {
  for (;;) {
    std::unique_lock<std::mutex> lock(sender->mu);
    if (sender->to_start.empty()) {
      sender->starting = false;
      return;
    }
    const int i = sender->to_start.front();
    sender->to_start.pop_front();
    if (sender->stop->Stops(i)) {
      lock.unlock();
      call->Decide(i, equivocation::NotStartedError());
      continue;
    }
    ++sender->undecided;
    lock.unlock();
    auto item = std::make_shared<equivocation::StopAtRefusal>(sender->stop, i);
    auto decided = std::make_shared<bool>(false);  // guarded by sender->mu
    StartItem(call->caller, call->request->items(i), call->response->mutable_results(i), item,
              [this, call, sender, i, decided](absl::Status s) {
                InOrderItemDecided(call, sender, i, decided.get(), std::move(s));
              });
    lock.lock();
    if (!*decided && !item->queued.load()) {  // it waits for its nonce
      sender->starting = false;
      sender->waiting = true;
      return;
    }
  }
}

void SignerService::InOrderItemDecided(const std::shared_ptr<BatchCall>& call,
                                       const std::shared_ptr<SenderInOrder>& sender, int i, bool* decided,
                                       absl::Status status) {
  if (!status.ok()) sender->stop->Refuse(i);
  bool resume = false;
  {
    std::lock_guard<std::mutex> lock(sender->mu);
    *decided = true;
    --sender->undecided;
    if (sender->waiting && sender->undecided == 0) {
      sender->waiting = false;
      sender->starting = true;
      resume = true;
    }
  }
  if (resume) {  // before this item's result: the call (and its request) lives until then
    equivocation::GroupCommit::BatchOnThisThread one_commit;
    StartInOrder(call, sender);
  }
  call->Decide(i, status);
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
    const bool in_order = request->stop_sender_at_refusal();
    for (int i = 0; i < n; ++i) response->add_results();
    auto call = std::make_shared<BatchCall>(c, request, response, std::move(finish));
    absl::flat_hash_map<SenderKey, std::shared_ptr<SenderInOrder>> senders;
    // Once the last item is started, the call may finish (and `request` go) on another thread:
    // nothing of the call is read after it. The items' records share one commit, written here
    // once every item is started (not one write per item: group_commit.h).
    equivocation::GroupCommit::BatchOnThisThread one_commit;
    for (int i = 0; i < n; ++i) {
      std::optional<SenderKey> sender = in_order ? SenderOf(request->items(i)) : std::nullopt;
      if (!sender.has_value()) {
        StartItem(c, request->items(i), response->mutable_results(i), nullptr,
                  [call, i](absl::Status s) { call->Decide(i, s); });
        continue;
      }
      std::shared_ptr<SenderInOrder>& in_order_sender = senders[*std::move(sender)];
      if (in_order_sender == nullptr) in_order_sender = std::make_shared<SenderInOrder>();
      QueueInOrder(call, in_order_sender, i);
    }
  });
}

}  // namespace signer
