// Test-only: what a NonceStore (nonce_store.h) must give allocators in several processes, as one
// parameterized suite on anvil. Each "replica" is an OnchainOperations with its own allocators on
// its own store handle; all share one signer (the signer service, with its anti-equivocation
// record). A backend's test binary instantiates it:
//
//   INSTANTIATE_TEST_SUITE_P(Postgres, SharedNoncesTest, ::testing::Values(&NewPostgresBackend));
#ifndef ONCHAIN_KMS_CHAIN_ONCHAIN_TESTING_SHARED_NONCES_CONTRACT_H_
#define ONCHAIN_KMS_CHAIN_ONCHAIN_TESTING_SHARED_NONCES_CONTRACT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "chain/onchain/nonce_store.h"
#include "chain/onchain/operations.h"
#include "chain/onchain/testing/anvil_env.h"
#include "gtest/gtest.h"

namespace chain::onchain::testing {

// The stores of one test. OpenReplica gives another process's view of the same nonces (a memory
// backend may return the same store each time); the backend owns what it returns.
class SharedNonceBackend {
 public:
  virtual ~SharedNonceBackend() = default;
  virtual absl::StatusOr<NonceStore*> OpenReplica() = 0;
};

using SharedNonceBackendFactory = std::unique_ptr<SharedNonceBackend> (*)();

class SharedNoncesTest : public ::testing::TestWithParam<SharedNonceBackendFactory> {
 protected:
  // Starts anvil (automine as given) and two replicas a_ and b_.
  void Start(bool automine, const OperationOptions& options = FastOptions());
  NonceStore& Replica();  // another store handle; the test fails if it cannot be opened

  std::unique_ptr<SharedNonceBackend> backend_;
  std::unique_ptr<AnvilEnv> env_;
  NonceStore* store_a_ = nullptr;
  NonceStore* store_b_ = nullptr;
  std::unique_ptr<OnchainOperations> a_;
  std::unique_ptr<OnchainOperations> b_;
};

}  // namespace chain::onchain::testing

#endif  // ONCHAIN_KMS_CHAIN_ONCHAIN_TESTING_SHARED_NONCES_CONTRACT_H_
