// Waiting for the app contract's owner: the `--prepare-only` / `--commit` workflow of the phala
// CLI, durable and automatic.
//
// When the address that must send an app-contract call (the owner, read on chain) is not a key
// the signer holds for the operation's tenant, nothing is signed. WaitForOwner journals the wait
// (FlowState.owner_waits: the public OwnerAction, the event that proves the call, the watch
// cursor) together with state WAITING_FOR_OWNER and Operation.owner_action, in one write with a
// STATE_CHANGED event, and then blocks in the step (the step stays RUNNING) until the effect is
// on chain:
//  * the expected event from the contract, found with eth_getLogs from watch_from_block on, in
//    bounded ranges (FlowOptions.owner_watch.log_window blocks; a provider that refuses the range
//    as too wide narrows it by 4 down to 1 block), only in blocks with the chain's configured
//    confirmations; the cursor is journaled after each range, so a restart does not search again;
//    polled with back-off (initial_poll doubling to max_poll), an RPC outage is retried forever;
//  * or a transaction handed over by SubmitOwnerTransaction (checked here again: mined, status 1,
//    to and calldata exactly the action's, the expected event in its logs), picked up at once.
// Then it journals the transaction and block, clears owner_action and sets the operation RUNNING
// in one write, and returns them; the step records them as its result (registered_by_owner).
// A restart resumes the step, which calls WaitForOwner again: it continues from the journal (the
// call passed in is ignored then). CancelOperation works while waiting (op_context.cc).
// The wait holds one worker (max_concurrent_operations) for as long as it lasts.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_FLOWS_OWNER_ACTION_H_
#define ONCHAIN_KMS_ORCHESTRATOR_FLOWS_OWNER_ACTION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "chain/address.h"
#include "chain/bytes.h"
#include "chain/hash32.h"
#include "chain/jsonrpc/types.h"
#include "orchestrator/engine/manager.h"
#include "orchestrator/flows/common.h"

namespace orchestrator::flows {

// The call the owner must send, and how its effect shows on chain.
struct OwnerCall {
  uint64_t chain_id = 0;
  chain::Address to;  // the app contract
  chain::Bytes data;  // exact calldata
  chain::Address owner;
  std::string function_signature;  // e.g. "addComposeHash(bytes32)"
  std::optional<chain::Hash32> compose_hash;
  std::optional<chain::Hash32> device_id;
  // The log `to` emits when the call succeeds (EventWithData, or set by hand for indexed args).
  state::ExpectedEvent event;
  // Why the operation waits; empty: "the app's owner <owner> is not a key of the signer".
  std::string reason;
};

// The owner's transaction, as found on chain.
struct OwnerTx {
  chain::Hash32 transaction_hash;
  uint64_t block_number = 0;
  chain::Address owner;  // the owner the action named (who had to send it)
};

// An event with `topic0` and exactly `data` (non-indexed arguments), e.g. ComposeHashAdded(hash).
state::ExpectedEvent EventWithData(const chain::Hash32& topic0, chain::ByteView data);
// Whether `log` (from `emitter`) is `event`.
bool MatchesEvent(const chain::jsonrpc::Log& log, const chain::Address& emitter, const state::ExpectedEvent& event);

// owner() of `app` at the latest block. FAILED_PRECONDITION when no address comes back.
absl::StatusOr<chain::Address> ReadAppOwner(OpContext& ctx, const engine::ChainBackend& chain,
                                            const chain::Address& app);

// Whether the signer may send from `key` for this operation: it holds the key and the
// operation's caller may sign with it on `chain_id` (FlowDeps.signer_may_send).
absl::StatusOr<bool> SignerMaySend(OpContext& ctx, const chain::Address& key, uint64_t chain_id);

// Whether `step` waits, or waited, for the owner: then it calls WaitForOwner again to resume.
bool WaitsForOwner(const state::FlowState& st, absl::string_view step);

// See the file comment. Returns CancelledByClientStatus / StoppingStatus when the wait stops.
absl::StatusOr<OwnerTx> WaitForOwner(OpContext& ctx, StepRun& run, const engine::ChainBackend& chain,
                                     const OwnerCall& call);

// SubmitOwnerTransaction for an operation the caller may act on (the service checked access):
// verifies the transaction against the operation's owner action and hands it to the waiting
// step. The same transaction again (any request_id), also after the operation went on, returns
// the operation unchanged. NOT_FOUND; FAILED_PRECONDITION (not waiting for the owner, or the
// transaction is not mined yet); INVALID_ARGUMENT (no such transaction, reverted, another `to`
// or calldata, or without the expected event: the message says which).
absl::StatusOr<v1::Operation> SubmitOwnerTransaction(const engine::FlowDeps& deps, engine::OperationManager& manager,
                                                     const v1::SubmitOwnerTransactionRequest& request);

}  // namespace orchestrator::flows

#endif  // ONCHAIN_KMS_ORCHESTRATOR_FLOWS_OWNER_ACTION_H_
