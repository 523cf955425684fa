// Test-only: an anvil chain with the dstack test contracts (//test/anvil:harness), a production
// JSON-RPC client on it, an in-process signer holding anvil's key #0, and OnchainOperations
// with short poll intervals. Shared by the on-chain integration tests, the SDK comparison and
// the benchmark.
#ifndef ONCHAIN_KMS_CHAIN_ONCHAIN_TESTING_ANVIL_ENV_H_
#define ONCHAIN_KMS_CHAIN_ONCHAIN_TESTING_ANVIL_ENV_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chain/address.h"
#include "chain/hash32.h"
#include "chain/jsonrpc/client.h"
#include "chain/onchain/local_key_signer.h"
#include "chain/onchain/operations.h"
#include "test/anvil/harness.h"

namespace chain::onchain::testing {

// Receipt polls from 2 ms up to every 50 ms, short timeouts, fee bumps after 1 s.
OperationOptions FastOptions();
jsonrpc::ClientOptions FastClientOptions(std::vector<std::string> endpoints);

struct AnvilEnv {
  std::unique_ptr<anvil::Anvil> anvil;
  std::unique_ptr<jsonrpc::Client> rpc;
  std::unique_ptr<LocalKeySigner> signer;  // anvil key #0 (owns the KMS too)
  std::unique_ptr<OnchainOperations> ops;
  uint64_t chain_id = 0;
  Address kms;
  Address sender;

  // Starts anvil (on the calling thread: see harness.h) and wires everything to it.
  static absl::StatusOr<std::unique_ptr<AnvilEnv>> Start(const anvil::Options& anvil_options = {},
                                                         const OperationOptions& options = FastOptions());
  // Rebuilds `ops` (a restart: a fresh NonceAllocator, nothing in memory).
  void Restart(const OperationOptions& options = FastOptions());

  DeployAppAuthRequest DeployRequest(const Hash32& compose_hash, const Hash32& device = Hash32()) const;
  // Sends a KMS test knob / owner call from anvil's account #0 and waits for it.
  absl::Status KmsOwnerCall(const std::string& signature_and_words_hex);
  // eth_call returning one ABI word as a bool / address.
  absl::StatusOr<bool> CallBool(const Address& to, const Bytes& data) const;
  absl::StatusOr<Address> CallAddress(const Address& to, const Bytes& data) const;
};

// A compose hash for test number `i` (non-zero, distinct).
Hash32 TestHash(uint64_t i, uint8_t tag = 0xc0);

// Mines a block every `interval` on a background thread until destroyed (automine off tests).
class Miner {
 public:
  Miner(anvil::Anvil& a, absl::Duration interval);
  ~Miner();

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace chain::onchain::testing

#endif  // ONCHAIN_KMS_CHAIN_ONCHAIN_TESTING_ANVIL_ENV_H_
