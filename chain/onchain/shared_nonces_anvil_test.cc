// The shared-nonce contract (testing/shared_nonces_contract.h) on MemoryNonceStore: allocators of
// two "replicas" in one process, one store.
#include <memory>

#include "chain/onchain/memory_nonce_store.h"
#include "chain/onchain/testing/shared_nonces_contract.h"

namespace chain::onchain::testing {
namespace {

class MemoryBackend final : public SharedNonceBackend {
 public:
  absl::StatusOr<NonceStore*> OpenReplica() override { return &store_; }

 private:
  MemoryNonceStore store_;
};

std::unique_ptr<SharedNonceBackend> NewMemoryBackend() { return std::make_unique<MemoryBackend>(); }

INSTANTIATE_TEST_SUITE_P(Memory, SharedNoncesTest, ::testing::Values(&NewMemoryBackend));

}  // namespace
}  // namespace chain::onchain::testing
