// A gRPC callback method's request and response on one protobuf arena per call, freed at once
// when the call ends: a SignBatch of 64 items parses ~10 strings per item and answers ~10 per
// item, each otherwise a malloc and a free of its own (and the response's destruction a walk
// over every one of them).
#ifndef ONCHAIN_KMS_SIGNER_ARENA_MESSAGES_H_
#define ONCHAIN_KMS_SIGNER_ARENA_MESSAGES_H_

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

#include <cstddef>

namespace signer {

// Hand it to the generated SetMessageAllocatorFor_<Method>; it must outlive the server.
// Thread-safe (every call gets its own arena). A call's arena starts with `first_block` bytes
// and grows by blocks of up to `max_block` bytes.
template <typename Request, typename Response>
class ArenaMessages final : public grpc::MessageAllocator<Request, Response> {
 public:
  explicit ArenaMessages(size_t first_block = 8 << 10, size_t max_block = 64 << 10)
      : first_block_(first_block), max_block_(max_block) {}

  grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new Holder(Options()); }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    explicit Holder(const google::protobuf::ArenaOptions& options) : arena_(options) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    google::protobuf::Arena arena_;
  };

  google::protobuf::ArenaOptions Options() const {
    google::protobuf::ArenaOptions options;
    options.start_block_size = first_block_;
    options.max_block_size = max_block_;
    return options;
  }

  const size_t first_block_;
  const size_t max_block_;
};

}  // namespace signer

#endif  // ONCHAIN_KMS_SIGNER_ARENA_MESSAGES_H_
