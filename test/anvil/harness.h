// The anvil harness shared by every integration test and the demo: starts a private anvil on a
// free port, deploys the test DstackApp implementation and DstackKms factory
// (//test/contracts) from anvil's unlocked account #0, and offers the chain-control calls tests
// need (mine, snapshot/revert, automine, drop a pending transaction, raw eth_call, funding).
//
//   absl::StatusOr<std::unique_ptr<anvil::Anvil>> a = anvil::Anvil::Start({.chain_id = 8453});
//   const anvil::DevChain& c = (*a)->chain();  // c.rpc_url, c.kms_address, ...
//
// The anvil process (its own process group) is killed by the destructor, which also runs when a
// gtest ASSERT fails. If the test process dies outright, the kernel kills anvil too
// (PR_SET_PDEATHSIG). That signal follows the *thread* that called Start(): start anvil on a
// thread that outlives the Anvil object (the main thread, or a gtest fixture).
//
// Addresses in and out are 0x-prefixed hex; the harness returns them in lower case, as anvil does.
// Call, CallRaw, EthCall, SendTransaction and WaitForReceipt may run on several threads at once
// (one connection per call); the mining-mode setters and Transact/Deploy may not race them.
#ifndef ONCHAIN_KMS_TEST_ANVIL_HARNESS_H_
#define ONCHAIN_KMS_TEST_ANVIL_HARNESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "test/anvil/json_rpc.h"
#include "test/anvil/pool_doctor.h"

namespace anvil {

// anvil's default accounts #0 and #1 (mnemonic "test test ... junk"). Public test keys: never
// use them anywhere real. #0 deploys the contracts and owns the KMS; #1 is a handy second party.
inline constexpr char kDeployerAddress[] = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
inline constexpr char kDeployerPrivateKey[] = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
inline constexpr char kSecondAddress[] = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
inline constexpr char kSecondPrivateKey[] = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

struct Options {
  uint64_t chain_id = 31337;  // tests also use 1 (Ethereum) and 8453 (Base)
  // Mining. Default: automine, one block per transaction at once. block_time > 0: interval
  // mining every block_time (fractions allowed). automine=false and no block_time: blocks only
  // on Mine(). The contracts are deployed in every mode (the harness mines them itself).
  bool automine = true;
  absl::Duration block_time = absl::ZeroDuration();
  bool deploy_contracts = true;
  // The app implementation the KMS deploys apps with: false, DstackApp (one-step ownership, as
  // before 2026-05); true, DstackAppTwoStep (pendingOwner / acceptOwnership, as from 2026-05).
  bool two_step_ownership = false;
  // Empty: $ANVIL_BINARY, else the pinned npm anvil found through runfiles or the checkout.
  std::string anvil_binary;
  std::vector<std::string> extra_args;  // appended to anvil's command line
  // Re-sends transactions anvil strands in its queued pool (pool_doctor.h); off only to show the
  // bug it works around.
  bool pool_doctor = true;
  absl::Duration startup_timeout = absl::Seconds(20);
  absl::Duration rpc_timeout = absl::Seconds(10);  // per JSON-RPC call
};

// What a test or the demo needs to talk to the chain.
struct DevChain {
  std::string rpc_url;  // http://127.0.0.1:<port>
  uint64_t chain_id = 0;
  std::string kms_address;                          // DstackKms factory; empty if deploy_contracts=false
  std::string app_implementation;                   // DstackApp(TwoStep) implementation behind every app proxy
  std::string deployer_address = kDeployerAddress;  // owns the KMS (and its test knobs)
  std::string deployer_private_key = kDeployerPrivateKey;
};

// A transaction from an unlocked anvil account (eth_sendTransaction; anvil signs it).
struct TxRequest {
  std::string from;   // empty: the deployer
  std::string to;     // empty: contract creation
  std::string data;   // 0x-hex calldata or creation code
  std::string value;  // 0x-quantity in wei; empty: 0
  // Empty: anvil estimates, so a reverting call fails at send time. Set it to get a mined
  // transaction with status 0.
  std::optional<uint64_t> gas;
};

class Anvil {
 public:
  // Starts anvil, waits until eth_chainId answers, deploys the contracts. Typical: ~0.1 s.
  static absl::StatusOr<std::unique_ptr<Anvil>> Start(const Options& options = {});
  ~Anvil();
  Anvil(const Anvil&) = delete;
  Anvil& operator=(const Anvil&) = delete;

  const DevChain& chain() const { return chain_; }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const JsonRpcClient& rpc() const { return rpc_; }
  bool Running() { return !Exited(); }  // false once the anvil process has exited
  // Transactions the pool doctor sent again (0 without one).
  int pool_doctor_resent() const { return doctor_ == nullptr ? 0 : doctor_->resent(); }

  // Raw JSON-RPC; see JsonRpcClient for the status codes.
  absl::StatusOr<boost::json::value> Call(absl::string_view method, boost::json::array params = {}) const;
  absl::StatusOr<RpcResponse> CallRaw(absl::string_view method, boost::json::array params = {}) const;

  // Returns the transaction hash; does not wait (and does not mine when automine is off).
  absl::StatusOr<std::string> SendTransaction(const TxRequest& tx);
  // Polls eth_getTransactionReceipt. DeadlineExceeded if no receipt in time.
  absl::StatusOr<boost::json::object> WaitForReceipt(absl::string_view tx_hash,
                                                     absl::Duration timeout = absl::Seconds(10));
  // Sends, mines if automine is off, waits, and checks status 1. Returns the receipt.
  absl::StatusOr<boost::json::object> Transact(const TxRequest& tx);
  // Deploys creation code (constructor arguments already appended); returns the address.
  absl::StatusOr<std::string> Deploy(absl::string_view creation_code_hex, absl::string_view from = "");

  // eth_call at "latest"; returns the 0x-hex result. A revert is FailedPrecondition whose
  // message holds the revert data; use CallRaw("eth_call", ...) for the structured error.
  absl::StatusOr<std::string> EthCall(absl::string_view to, absl::string_view data_hex,
                                      absl::string_view from = "") const;

  absl::Status SetBalance(absl::string_view address, absl::string_view wei_quantity_hex);
  absl::Status FundEther(absl::string_view address, uint64_t ether);
  absl::StatusOr<uint64_t> BlockNumber() const;

  absl::Status Mine(uint64_t blocks = 1);
  absl::StatusOr<std::string> Snapshot();              // evm_snapshot id, e.g. "0x0"
  absl::Status Revert(absl::string_view snapshot_id);  // consumes the snapshot, as anvil does
  absl::Status SetAutomine(bool on);
  absl::Status SetIntervalMining(uint64_t seconds);  // 0 turns interval mining off
  // Removes a pending transaction from the pool; NotFound if anvil does not hold it.
  absl::Status DropTransaction(absl::string_view tx_hash);

  // Freezes / thaws the anvil process (SIGSTOP / SIGCONT): connections are accepted by the
  // kernel but never answered, so clients see timeouts: "endpoint down, then back".
  absl::Status Pause();
  absl::Status Resume();

 private:
  Anvil(pid_t pid, std::string log_path, uint16_t port, const Options& options);
  absl::Status WaitUntilReady(const Options& options);
  absl::Status DeployContracts(absl::string_view app_contract);  // "DstackApp" or "DstackAppTwoStep"
  std::string LogTail() const;
  bool Exited();  // reaps the child if it has exited

  pid_t pid_;
  bool reaped_ = false;
  std::string log_path_;
  uint16_t port_;
  bool automine_;
  JsonRpcClient rpc_;
  DevChain chain_;
  std::unique_ptr<PoolDoctor> doctor_;
};

// ---- tools ----

// Absolute path of the real foundry binary ("anvil" or "cast"), never the node_modules/.bin
// wrapper (it always exits 0). Order: $ANVIL_BINARY / $CAST_BINARY, the test's runfiles, this
// binary's runfiles, $BUILD_WORKSPACE_DIRECTORY (bazel run).
absl::StatusOr<std::string> FindFoundryBinary(absl::string_view tool);

struct CommandResult {
  int exit_code = 0;  // 128+signal if killed by a signal
  std::string out;
  std::string err;
};
// Runs argv[0] (a path, no shell), capturing stdout and stderr; kills it after `timeout`.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout = absl::Seconds(30));
// Runs the real cast with `args`; a non-zero exit is an error carrying stderr. Returns stdout
// with the trailing newline removed.
absl::StatusOr<std::string> RunCast(const std::vector<std::string>& args);

// ---- small hex helpers for tests ----

// 64 hex digits, no "0x": a 0x-hex address or quantity left-padded to one ABI word, for
// appending to a selector or creation code.
std::string AbiWord(absl::string_view hex);
std::string ToQuantity(uint64_t v);  // 0x-quantity, e.g. "0x1f"
absl::StatusOr<uint64_t> ParseQuantity(absl::string_view quantity);
std::string Lower(absl::string_view s);

}  // namespace anvil

#endif  // ONCHAIN_KMS_TEST_ANVIL_HARNESS_H_
