// Reading a DstackApp contract's governance state (GetAppState, and the UPDATE_APP_CONTRACT
// flow before and after its change), all at one block so the fields agree with each other.
//
// Cost per read: eth_blockNumber (unless a block is given), eth_getCode, seven eth_calls
// (owner, pendingOwner, allowAnyDevice, requireTcbUpToDate, version and the two mapping getters
// per asked device id / compose hash), one eth_getStorageAt (the ERC-1967 implementation slot)
// and, for upgrades_disabled, one eth_getLogs over [0, block] plus at most one
// eth_getTransactionByHash. Functions an older contract lacks (pendingOwner, requireTcbUpToDate,
// version) revert and read as absent/false/0.
//
// upgrades_disabled: the contract has no getter. It is true when the app logged
// UpgradesDisabled() at or before the block, or when the transaction that initialized the app
// (its Initialized log) is a DstackKms.deployAndRegisterApp call with disableUpgrades = true
// (the initializer sets the flag without a log). Limits: an app initialized through another
// contract (a multisig calling the factory) with upgrades disabled reads false; providers that
// cap eth_getLogs ranges refuse the query (see AppStateQuery::upgrades_disabled).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_FLOWS_APP_STATE_H_
#define ONCHAIN_KMS_ORCHESTRATOR_FLOWS_APP_STATE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "chain/address.h"
#include "chain/hash32.h"
#include "chain/jsonrpc/client.h"
#include "onchainkms/orchestrator/v1/orchestrator.pb.h"

namespace orchestrator::flows {

struct AppStateQuery {
  uint64_t chain_id = 0;
  chain::Address app;
  std::vector<chain::Hash32> device_ids;      // reported in AppState.devices, in order
  std::vector<chain::Hash32> compose_hashes;  // reported in AppState.compose_hashes
  std::optional<uint64_t> block;              // unset: the latest block (eth_blockNumber)
  // The signer's keys (for owner_is_signer_key); unset: reported false.
  std::optional<std::vector<chain::Address>> signer_keys;
  // How upgrades_disabled is read: its eth_getLogs spans [0, block], which providers that cap
  // the block range refuse. kSkip: not read (false); kBestEffort: such a refusal reads false.
  enum class UpgradesDisabledRead { kRequired, kBestEffort, kSkip };
  UpgradesDisabledRead upgrades_disabled = UpgradesDisabledRead::kRequired;
};

// NOT_FOUND when there is no contract at the address; FAILED_PRECONDITION when owner() does not
// answer an address (not a DstackApp); the RPC's errors otherwise (UNAVAILABLE when unreachable).
absl::StatusOr<::onchainkms::orchestrator::v1::AppState> ReadAppState(chain::jsonrpc::Client& rpc,
                                                                      const AppStateQuery& query,
                                                                      const chain::jsonrpc::CallOptions& call = {});

}  // namespace orchestrator::flows

#endif  // ONCHAIN_KMS_ORCHESTRATOR_FLOWS_APP_STATE_H_
