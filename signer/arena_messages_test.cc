#include "signer/arena_messages.h"

#include <gtest/gtest.h>

#include "onchainkms/signer/v1/signer.pb.h"

namespace signer {
namespace {

namespace v1 = onchainkms::signer::v1;

TEST(ArenaMessagesTest, ACallsRequestAndResponseShareOneArenaOfTheirOwn) {
  ArenaMessages<v1::SignBatchRequest, v1::SignBatchResponse> allocator;
  grpc::MessageHolder<v1::SignBatchRequest, v1::SignBatchResponse>* a = allocator.AllocateMessages();
  grpc::MessageHolder<v1::SignBatchRequest, v1::SignBatchResponse>* b = allocator.AllocateMessages();
  ASSERT_NE(a->request()->GetArena(), nullptr);
  EXPECT_EQ(a->request()->GetArena(), a->response()->GetArena());
  EXPECT_NE(a->request()->GetArena(), b->request()->GetArena());
  // What the handlers fill lives on the call's arena too, and goes with it.
  v1::SignBatchResult* result = a->response()->add_results();
  result->mutable_signed_transaction()->set_raw_transaction(std::string(300, 'f'));
  EXPECT_EQ(result->GetArena(), a->response()->GetArena());
  a->request()->add_items()->mutable_add_compose_hash()->set_from_address(std::string(42, 'a'));
  EXPECT_EQ(a->request()->items(0).GetArena(), a->request()->GetArena());
  a->Release();
  b->Release();
}

}  // namespace
}  // namespace signer
