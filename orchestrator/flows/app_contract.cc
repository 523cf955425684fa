// UPDATE_APP_CONTRACT: [get_cvm] -> read_app_state -> app_call.
//
// read_app_state resolves the app (the request's, or the CVM's), the device id (a node id is
// looked up in the Phala Cloud API's node list), reads the app's state at one block
// (app_state.h) and decides who must send the call (the owner; for acceptOwnership the pending
// owner) and whether the change is already in effect. app_call is then SKIPPED, or sends the
// call through the signer's SignAppCall on the journaled transaction path every transaction step
// shares (common.h RunTx: a resumed step adopts the transaction it signed instead of signing
// another), or, when the signer may not send from that address, waits for the owner to send it
// (owner_action.h); then it reads the state again at the transaction's block to check the change.
#include <algorithm>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chain/dstack_app_calls.h"
#include "chain/dstack_app_events.h"
#include "cloudapi/node_device.h"
#include "orchestrator/engine/step_table.h"
#include "orchestrator/flows/app_state.h"
#include "orchestrator/flows/common.h"
#include "orchestrator/flows/flows.h"
#include "orchestrator/flows/owner_action.h"
#include "platform/status_macros.h"

namespace orchestrator::flows {
namespace {

using chain::AppCall;
using engine::BeforeEffect;
using engine::Step;
using engine::StepTable;
using Req = v1::UpdateAppContractRequest;

struct AppTarget {
  uint64_t chain_id = 0;
  chain::Address app;
};

absl::StatusOr<AppTarget> TargetOf(const state::FlowState& st, const Req& req) {
  if (req.has_app()) {
    ASSIGN_OR_RETURN(const chain::Address app, AddressField("app", req.app().app_contract_address()));
    return AppTarget{req.app().chain_id(), app};
  }
  const state::Cvm& c = st.cvm();
  if (c.chain_id() == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("CVM ", c.id(), " uses an off-chain KMS: it has no app contract to change"));
  }
  absl::StatusOr<chain::Address> app = AddressField(
      "cvm.app_contract_address", c.app_contract_address().empty() ? c.app_id() : c.app_contract_address());
  if (!app.ok()) return absl::FailedPreconditionError(absl::StrCat("app contract address: ", app.status().message()));
  return AppTarget{c.chain_id(), *app};
}

// The device of add_device / remove_device: its id, or the device id the API reports for the node.
template <typename Device>
absl::StatusOr<chain::Hash32> DeviceOf(OpContext& ctx, const Device& d) {
  if (d.device_case() == Device::kDeviceId) return chain::Hash32::FromHex(d.device_id());
  absl::StatusOr<chain::Hash32> id = cloudapi::LookUpNodeDeviceId(*ctx.deps().cloud, static_cast<int64_t>(d.node_id()));
  if (!id.ok()) return absl::Status(id.status().code(), absl::StrCat("node_id: ", id.status().message()));
  return *id;
}

absl::StatusOr<std::optional<chain::Hash32>> RequestedDevice(OpContext& ctx, const Req& req) {
  if (req.has_add_device()) return DeviceOf(ctx, req.add_device());
  if (req.has_remove_device()) return DeviceOf(ctx, req.remove_device());
  return std::nullopt;
}

AppCall CallOf(const Req& req, const chain::Hash32& device) {
  switch (req.change_case()) {
    case Req::kAddDevice:
      return chain::AddDevice{device};
    case Req::kRemoveDevice:
      return chain::RemoveDevice{device};
    case Req::kSetAllowAnyDevice:
      return chain::SetAllowAnyDevice{req.set_allow_any_device().allow_any_device()};
    case Req::kTransferOwnership:  // validated: an address
      return chain::TransferOwnership{chain::Address::Parse(req.transfer_ownership().new_owner()).value()};
    case Req::kAcceptOwnership:
      return chain::AcceptOwnership{};
    default:
      return chain::DisableUpgrades{};
  }
}

// Whether `s` already shows the change; `sender` for acceptOwnership.
bool InEffect(const v1::AppState& s, const Req& req, const std::string& sender) {
  switch (req.change_case()) {
    case Req::kAddDevice:
      return !s.devices().empty() && s.devices(0).allowed();
    case Req::kRemoveDevice:
      return !s.devices().empty() && !s.devices(0).allowed();
    case Req::kSetAllowAnyDevice:
      return s.allow_any_device() == req.set_allow_any_device().allow_any_device();
    case Req::kTransferOwnership: {
      const std::string& to = req.transfer_ownership().new_owner();
      return s.owner() == to || (s.two_step_ownership() && s.pending_owner() == to);
    }
    case Req::kAcceptOwnership:
      return s.pending_owner().empty() && s.owner() == sender;
    default:
      return s.upgrades_disabled();
  }
}

absl::StatusOr<v1::AppState> ReadState(OpContext& ctx, const engine::ChainBackend& chain, const AppTarget& t,
                                       const Req& req, const std::optional<chain::Hash32>& device,
                                       std::optional<uint64_t> block) {
  AppStateQuery q{.chain_id = t.chain_id, .app = t.app, .block = block};
  // Only disable_upgrades needs upgrades_disabled, whose eth_getLogs from block 0 providers with
  // a range cap refuse: other changes do not read it.
  if (!req.has_disable_upgrades()) q.upgrades_disabled = AppStateQuery::UpgradesDisabledRead::kSkip;
  if (device.has_value()) q.device_ids.push_back(*device);
  if (ctx.deps().signer_keys) {
    if (absl::StatusOr<std::vector<chain::Address>> keys = ctx.deps().signer_keys(); keys.ok()) q.signer_keys = *keys;
  }
  return ReadAppState(*chain.rpc, q, ctx.Call(absl::Seconds(60)));
}

absl::Status ReadAppStateStep(OpContext& ctx, StepRun& run, const Req& req) {
  const state::FlowState st = ctx.State();
  ASSIGN_OR_RETURN(const AppTarget t, TargetOf(st, req));
  ASSIGN_OR_RETURN(const engine::ChainBackend* chain, ChainFor(ctx, t.chain_id, /*check_rpc=*/true));
  ASSIGN_OR_RETURN(const std::optional<chain::Hash32> device, RequestedDevice(ctx, req));
  ASSIGN_OR_RETURN(const v1::AppState s, ReadState(ctx, *chain, t, req, device, std::nullopt));
  ASSIGN_OR_RETURN(const chain::Address key, SignerKey(ctx));
  std::string sender = s.owner();
  if (req.has_accept_ownership()) {
    if (!s.two_step_ownership()) {
      return absl::FailedPreconditionError(
          absl::StrCat("accept_ownership: app ", t.app.Checksummed(), " has one-step ownership (no pendingOwner())"));
    }
    // Nothing pending: in effect if the operation's key already owns the app.
    sender = s.pending_owner().empty() ? key.Checksummed() : s.pending_owner();
    if (s.pending_owner().empty() && s.owner() != sender) {
      return absl::FailedPreconditionError(absl::StrCat("accept_ownership: no ownership transfer is pending on app ",
                                                        t.app.Checksummed(), " (owner ", s.owner(), ")"));
    }
  }
  const AppCall call = CallOf(req, device.value_or(chain::Hash32()));
  const bool in_effect = InEffect(s, req, sender);
  state::AppChange change;
  change.set_chain_id(t.chain_id);
  change.set_app_contract_address(ToField(t.app));
  if (device.has_value()) change.set_device_id(ToField(*device));
  change.set_sender(sender);
  change.set_already_in_effect(in_effect);
  return run.Succeed(
      [&](v1::Operation& op, state::FlowState& st) {
        *st.mutable_app_change() = change;
        v1::AppContractChangeResult* r = op.mutable_app_contract_change();
        r->set_chain_id(t.chain_id);
        r->set_app_contract_address(t.app.Checksummed());
        r->set_function_signature(std::string(chain::AppCallSignature(call)));
        r->set_already_in_effect(in_effect);
        *r->mutable_state() = s;
      },
      absl::StrCat(
          "owner ", s.owner(), s.pending_owner().empty() ? "" : absl::StrCat(", pending owner ", s.pending_owner()),
          in_effect
              ? absl::StrCat(": ", chain::AppCallSignature(call), " already in effect at block ", s.block_number())
              : absl::StrCat(": ", chain::AppCallSignature(call), " to be sent from ", sender)));
}

// The log that proves `call` took effect, for the owner's transaction (owner_action.h).
state::ExpectedEvent EventOf(const AppCall& call, const v1::AppState& before, const chain::Address& sender) {
  const auto word = [](const chain::Address& a) { return absl::StrCat("0x", std::string(24, '0'), a.Hex().substr(2)); };
  const auto indexed = [&](const chain::Hash32& topic0, const std::string& from, const chain::Address& to) {
    state::ExpectedEvent e;
    e.set_topic0(topic0.Hex());
    if (absl::StatusOr<chain::Address> a = chain::Address::Parse(from); a.ok()) e.add_indexed_topics(word(*a));
    e.add_indexed_topics(word(to));
    return e;
  };
  struct Visitor {
    const v1::AppState& before;
    const chain::Address& sender;
    const decltype(indexed)& by_owner;
    state::ExpectedEvent operator()(const chain::AddDevice& c) {
      return EventWithData(chain::DeviceAddedTopic(), c.device_id.bytes());
    }
    state::ExpectedEvent operator()(const chain::RemoveDevice& c) {
      return EventWithData(chain::DeviceRemovedTopic(), c.device_id.bytes());
    }
    state::ExpectedEvent operator()(const chain::SetAllowAnyDevice& c) {
      chain::Hash32 flag;
      if (c.allow_any) flag = chain::Hash32::FromHex(std::string(63, '0') + "1").value();
      return EventWithData(chain::AllowAnyDeviceSetTopic(), flag.bytes());
    }
    state::ExpectedEvent operator()(const chain::TransferOwnership& c) {
      return by_owner(
          before.two_step_ownership() ? chain::OwnershipTransferStartedTopic() : chain::OwnershipTransferredTopic(),
          before.owner(), c.new_owner);
    }
    state::ExpectedEvent operator()(const chain::AcceptOwnership&) {
      return by_owner(chain::OwnershipTransferredTopic(), before.owner(), sender);
    }
    state::ExpectedEvent operator()(const chain::DisableUpgrades&) {
      return EventWithData(chain::UpgradesDisabledTopic(), chain::ByteView());
    }
  };
  return std::visit(Visitor{before, sender, indexed}, call);
}

// Journals the change's transaction and the app's state read at its block, which must show the
// change in effect.
absl::Status SucceedChange(OpContext& ctx, StepRun& run, const engine::ChainBackend& chain, const AppTarget& t,
                           const Req& req, const std::optional<chain::Hash32>& device, const chain::Hash32& tx,
                           uint64_t block, bool by_owner) {
  const state::AppChange change = ctx.State().app_change();
  ASSIGN_OR_RETURN(const v1::AppState after, ReadState(ctx, chain, t, req, device, block));
  if (!InEffect(after, req, change.sender())) {
    return absl::FailedPreconditionError(absl::StrCat("transaction ", tx.Hex(), " was mined in block ", block,
                                                      " but the app's state there does not show the change"));
  }
  return run.Succeed(
      [&](v1::Operation& op, state::FlowState&) {
        v1::AppContractChangeResult* r = op.mutable_app_contract_change();
        r->set_transaction_hash(tx.Hex());
        r->set_block_number(block);
        r->set_sent_by_owner(by_owner);
        *r->mutable_state() = after;
        if (v1::Step* s = engine::FindStep(op, run.name())) {
          s->set_transaction_hash(tx.Hex());
          s->set_block_number(block);
        }
      },
      absl::StrCat(by_owner ? "sent by the owner, mined in block " : "mined in block ", block));
}

absl::Status AppCallStep(OpContext& ctx, StepRun& run, const Req& req) {
  const state::FlowState st = ctx.State();
  const state::AppChange& change = st.app_change();
  ASSIGN_OR_RETURN(const AppTarget t, TargetOf(st, req));
  ASSIGN_OR_RETURN(const engine::ChainBackend* chain, ChainFor(ctx, t.chain_id, /*check_rpc=*/false));
  std::optional<chain::Hash32> device;
  if (!change.device_id().empty()) {
    ASSIGN_OR_RETURN(device, HashField("app_change.device_id", change.device_id()));
  }
  const AppCall call = CallOf(req, device.value_or(chain::Hash32()));
  ASSIGN_OR_RETURN(const chain::Address sender, AddressField("app_change.sender", change.sender()));
  bool by_owner = WaitsForOwner(st, run.name());
  if (!by_owner) {
    absl::StatusOr<chain::Address> key = SignerKey(ctx);
    if (!key.ok() || *key != sender) {
      ASSIGN_OR_RETURN(const bool may_send, SignerMaySend(ctx, sender, t.chain_id));
      by_owner = !may_send;
    }
  }
  if (by_owner) {
    // The sender is not a key of the signer (for this caller): the operation waits for it.
    OwnerCall owner_call{
        .chain_id = t.chain_id,
        .to = t.app,
        .data = chain::EncodeAppCall(call),
        .owner = sender,
        .function_signature = std::string(chain::AppCallSignature(call)),
        .device_id = device,
        .event = EventOf(call, st.has_app_change() ? ctx.Operation().app_contract_change().state() : v1::AppState(),
                         sender)};
    ASSIGN_OR_RETURN(const OwnerTx tx, WaitForOwner(ctx, run, *chain, owner_call));
    return SucceedChange(ctx, run, *chain, t, req, device, tx.transaction_hash, tx.block_number, /*by_owner=*/true);
  }
  chain::onchain::AppCallRequest request{.chain_id = t.chain_id, .app = t.app, .sender = sender, .call = call};
  ASSIGN_OR_RETURN(const chain::onchain::MinedTx mined, RunAppCall(ctx, run, *chain, request));
  return SucceedChange(ctx, run, *chain, t, req, device, mined.tx.hash, mined.receipt.block_number,
                       /*by_owner=*/false);
}

std::optional<std::string> AlreadyInEffect(const state::FlowState& st, const Req&) {
  if (!st.app_change().already_in_effect()) return std::nullopt;
  return "already in effect on chain: nothing sent";
}

}  // namespace

std::unique_ptr<engine::Flow> NewUpdateAppContractFlow() {
  Step<Req> get_cvm = {
      .name = kGetCvm,
      .effect = [](OpContext& ctx, StepRun& run,
                   const Req& req) { return GetCvmStep(ctx, run, req.cvm_id(), /*need_compose=*/false); },
      .included = [](const Req& req) { return !req.has_app(); }};
  return std::make_unique<StepTable<Req>>(std::vector<Step<Req>>{
      get_cvm,
      {.name = kReadAppState, .effect = ReadAppStateStep},
      {.name = kAppCall, .before = BeforeEffect::kTransaction, .effect = AppCallStep, .skip_when = AlreadyInEffect},
  });
}

}  // namespace orchestrator::flows
