// The two on-chain operations the orchestrator runs for a CVM governed by an on-chain KMS:
// deploying the app's DstackApp contract through the DstackKms factory, and allowing a new
// compose hash on it. Thread-safe: run any number of operations at once on one instance; the
// transactions of one sender get contiguous nonces (nonce_allocator.h).
//
// Error codes (pre-checks run before anything is signed):
//   FAILED_PRECONDITION  wrong chain; no contract at the KMS / app address; the sender is not the
//                        app's owner; the call would revert (the decoded reason is in the message:
//                        Error("DstackApp implementation not set"), OwnableUnauthorizedAccount(..));
//                        the balance does not cover gas_limit * maxFeePerGas; the receipt lacks the
//                        expected event from the expected address.
//   RESOURCE_EXHAUSTED   the fee market is above the configured caps.
//   ABORTED              the transaction reverted on chain, or its nonce was taken by a
//                        transaction that is not ours (IsNonceConflict; see
//                        max_nonce_conflict_resigns).
//   CANCELLED / DEADLINE_EXCEEDED   the wait stopped; the transaction stays tracked, resume with
//                        RunControl::resume (the journal the operation handed to on_signed).
//   UNAVAILABLE and others from the JSON-RPC client (errors.h) or the signer.
#ifndef ONCHAIN_KMS_CHAIN_ONCHAIN_OPERATIONS_H_
#define ONCHAIN_KMS_CHAIN_ONCHAIN_OPERATIONS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "chain/address.h"
#include "chain/dstack_calls.h"
#include "chain/hash32.h"
#include "chain/jsonrpc/cancel.h"
#include "chain/jsonrpc/client.h"
#include "chain/onchain/fees.h"
#include "chain/onchain/nonce_allocator.h"
#include "chain/onchain/tx_journal.h"
#include "chain/onchain/tx_signer.h"
#include "chain/u256.h"

namespace chain::onchain {

struct OperationOptions {
  // gas limit = eth_estimateGas * (100 + gas_margin_percent) / 100, at most max_gas_limit.
  uint32_t gas_margin_percent = 20;
  uint64_t max_gas_limit = 1'500'000;
  // Kept on top of the worst-case cost in the balance pre-check (the SDK asks 0.001 ETH flat).
  Wei min_balance_reserve = U256(0);
  WaitOptions wait;
  NonceAllocatorOptions nonces;  // fee policy, stuck-transaction bump
  // When a transaction's nonce turns out to be taken by a transaction that is not ours (the key
  // was used elsewhere), none of our signed versions can ever be mined. 0 (default): report
  // ABORTED (IsNonceConflict) and let the caller decide; the next operation re-reads the nonce.
  // n > 0: sign the same call again with a fresh nonce, at most n times. That is a different
  // transaction for the same step: safe only if the RPC view is consistent (the conflict is
  // confirmed on two polls, but a load-balanced provider can mix lagging backends).
  int max_nonce_conflict_resigns = 0;
  // AddComposeHash looks for the earlier ComposeHashAdded log in blocks [from, latest], in
  // windows of this many blocks (0: one eth_getLogs call; providers often cap at 10k blocks).
  uint64_t log_search_window = 0;
};

// Controls one run.
struct RunControl {
  jsonrpc::CallOptions call;  // cancellation and an overall deadline
  // Receives the journal after each signature, before the broadcast; persist it to resume.
  JournalFn on_signed;
  // Resume an operation that signed before: skips the pre-checks and the signing, adopts
  // these transactions (re-broadcasting them if the node forgot them) and waits.
  std::optional<TxJournal> resume;
};

struct DeployAppAuthRequest {
  uint64_t chain_id = 0;  // the KMS's chain (kms_info.chain_id); the RPC must serve it
  Address kms;            // DstackKms factory (kms_info.kms_contract_address)
  Address sender;         // the signing key
  // initial_owner zero: the sender (as the SDK does). Device and compose hash: full 32 bytes.
  // A non-zero initial_device_id forces allow_any_device to false (as the SDK does).
  DeployAndRegisterAppParams params;
  std::string request_id;  // for the signer's audit log
};

struct DeployAppAuthResult {
  Address app_id;        // = the DstackApp contract address
  Address app_contract;  // same as app_id (kept for the SDK's field name appAuthAddress)
  Address deployer;      // msg.sender of the factory call, from the event
  Hash32 tx_hash;
  uint64_t block_number = 0;
  Hash32 block_hash;
  uint64_t gas_used = 0;
  std::optional<U256> effective_gas_price;
  uint64_t nonce = 0;
  int versions_signed = 0;   // 1 + fee bumps
  int broadcasts = 0;        // eth_sendRawTransaction calls by this run's wait
  int receipt_vanished = 0;  // receipts seen and then gone (reorg, snapshot revert)
};

struct AddComposeHashRequest {
  uint64_t chain_id = 0;
  Address app;  // the DstackApp contract = the app id
  Address sender;
  Hash32 compose_hash;
  std::string request_id;
  uint64_t log_search_from_block = 0;  // where the app was deployed, if known
};

struct AddComposeHashResult {
  Hash32 compose_hash;
  Address app;
  // The transaction that allowed the hash: ours, or the earlier one when already_allowed.
  std::optional<Hash32> tx_hash;  // unset only if already allowed and no log was found
  uint64_t block_number = 0;
  uint64_t gas_used = 0;
  bool already_allowed = false;  // nothing was signed or paid
  uint64_t nonce = 0;            // of our transaction (when one was sent)
  int versions_signed = 0;
  int broadcasts = 0;
  int receipt_vanished = 0;
};

// A DstackApp governance call (chain/dstack_app_calls.h) from `sender`, who should be the app's owner (for
// acceptOwnership: its pending owner). Whether the change is needed at all is the caller's
// business (it reads the app's state first); this only checks that the call would not revert.
struct AppCallRequest {
  uint64_t chain_id = 0;
  Address app;
  Address sender;
  AppCall call;
  std::string request_id;
};

class OnchainOperations {
 public:
  // `rpc`, `signer` and `nonce_store` must outlive this object. `nonce_store`: null when this
  // process is the only one signing with its keys; else the store shared with the others
  // (nonce_store.h).
  OnchainOperations(jsonrpc::Client& rpc, TxSigner& signer, OperationOptions options = {},
                    NonceStore* nonce_store = nullptr);
  ~OnchainOperations();

  absl::StatusOr<DeployAppAuthResult> DeployAppAuth(const DeployAppAuthRequest& request,
                                                    const RunControl& control = {});
  absl::StatusOr<AddComposeHashResult> AddComposeHash(const AddComposeHashRequest& request,
                                                      const RunControl& control = {});
  // The mined transaction (its receipt succeeded).
  absl::StatusOr<MinedTx> SendAppCall(const AppCallRequest& request, const RunControl& control = {});

  NonceAllocator& nonces(uint64_t chain_id, const Address& sender) { return registry_.For(chain_id, sender); }
  const OperationOptions& options() const { return options_; }

 private:
  // What the first Prepare of an operation also checks, before the gas estimate: the chain id
  // (0: not here) and that a contract is at `contract` ("no contract at the <contract_name>
  // address").
  struct Preflight {
    uint64_t chain_id = 0;
    std::optional<Address> contract;
    const char* contract_name = "";
  };
  // The preflight checks, then gas estimate (reverts decoded), fees, balance: one batch of reads.
  struct Prepared {
    uint64_t gas_limit = 0;
    Fees fees;
  };
  absl::Status CheckChain(uint64_t chain_id, const jsonrpc::CallOptions& call);
  // An operation's first Prepare checks: the chain id and that `contract` has code; on resume
  // (nothing prepared again) the chain id is checked here and no Preflight is returned.
  absl::StatusOr<Preflight> FirstChecks(uint64_t chain_id, const Address& contract, const char* contract_name,
                                        const RunControl& control);
  static absl::Status ChainAnswer(const absl::StatusOr<uint64_t>& id, uint64_t chain_id);
  // FAILED_PRECONDITION "no contract at the <what> address ..." when `address` has no code.
  absl::Status CheckCode(const Address& address, absl::string_view what, uint64_t chain_id,
                         const jsonrpc::CallOptions& call);
  absl::StatusOr<Prepared> Prepare(const TxIntent& intent, const Address& sender, const Preflight& checks,
                                   const jsonrpc::CallOptions& call);
  // Signs (or adopts, on resume), broadcasts and waits.
  // The steps of AddComposeHash before signing: the app exists and `sender` owns it; whether the
  // hash is allowed already.
  absl::StatusOr<bool> CheckOwnerAndAllowed(const AddComposeHashRequest& request, const jsonrpc::CallOptions& call);
  // The earlier ComposeHashAdded log of an allowed hash into `result` (left empty if not found).
  absl::Status FindEarlierAddition(const AddComposeHashRequest& request, const jsonrpc::CallOptions& call,
                                   AddComposeHashResult& result);
  absl::StatusOr<MinedTx> Execute(uint64_t chain_id, const Address& sender, const TxIntent& intent,
                                  const std::string& request_id, const RunControl& control,
                                  const Preflight& first_checks);

  jsonrpc::Client& rpc_;
  const OperationOptions options_;
  NonceRegistry registry_;
};

}  // namespace chain::onchain

#endif  // ONCHAIN_KMS_CHAIN_ONCHAIN_OPERATIONS_H_
