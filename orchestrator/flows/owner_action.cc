#include "orchestrator/flows/owner_action.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "chain/dstack_app_views.h"
#include "chain/hex.h"
#include "chain/jsonrpc/errors.h"
#include "orchestrator/engine/status_marks.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace orchestrator::flows {
namespace {

constexpr absl::Duration kRpcTimeout = absl::Seconds(15);
// How often a waiting step looks for a transaction handed over by SubmitOwnerTransaction.
constexpr absl::Duration kInboxInterval = absl::Milliseconds(200);

const state::OwnerWait* FindWait(const state::FlowState& st, absl::string_view step) {
  for (const state::OwnerWait& w : st.owner_waits()) {
    if (w.step() == step) return &w;
  }
  return nullptr;
}

state::OwnerWait* FindWait(state::FlowState& st, absl::string_view step) {
  for (state::OwnerWait& w : *st.mutable_owner_waits()) {
    if (w.step() == step) return &w;
  }
  return nullptr;
}

absl::StatusOr<v1::OwnerAction> ActionOf(const state::OwnerWait& w) {
  v1::OwnerAction a;
  if (!a.ParseFromString(w.action())) return absl::DataLossError("journal: owner_waits.action does not parse");
  return a;
}

std::vector<std::string> Topic0s(const state::ExpectedEvent& event) {
  std::vector<std::string> out = {event.topic0()};
  out.insert(out.end(), event.also_topic0().begin(), event.also_topic0().end());
  return out;
}

absl::Status Stopped(OpContext& ctx, absl::string_view step) {
  return ctx.stopping() ? engine::StoppingStatus(step) : engine::CancelledByClientStatus();
}

// The confirmations a block needs before the owner's transaction in it counts (the event watch's
// setting, so a submitted transaction is no shallower than one the watch would find).
uint64_t Confirmations(const engine::ChainBackend& chain) {
  return chain.ops != nullptr ? std::max<uint32_t>(1, chain.ops->options().wait.confirmations) : 1;
}

// The checks of a transaction that claims to be the owner's action (see SubmitOwnerTransaction).
absl::StatusOr<OwnerTx> VerifyOwnerTx(const engine::ChainBackend& chain, const v1::OwnerAction& action,
                                      const state::ExpectedEvent& event, const chain::Hash32& hash,
                                      const chain::jsonrpc::CallOptions& call) {
  chain::jsonrpc::Client& rpc = *chain.rpc;
  ASSIGN_OR_RETURN(const chain::Address to, AddressField("owner_action.to", action.to()));
  ASSIGN_OR_RETURN(const chain::Bytes data, chain::FromHex(action.data()));
  ASSIGN_OR_RETURN(const std::optional<chain::jsonrpc::TransactionInfo> tx, rpc.GetTransactionByHash(hash, call));
  if (!tx.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("transaction_hash: no transaction ", hash.Hex(), " on chain ", action.chain_id()));
  }
  if (tx->pending()) {
    return absl::FailedPreconditionError(
        absl::StrCat("transaction_hash: ", hash.Hex(), " is not mined yet; call again once it is"));
  }
  if (tx->to != to) {
    return absl::InvalidArgumentError(absl::StrCat("transaction_hash: ", hash.Hex(), " was sent to ",
                                                   tx->to.has_value() ? tx->to->Checksummed() : "no address",
                                                   ", the owner action's `to` is ", to.Checksummed()));
  }
  if (tx->input != data) {
    return absl::InvalidArgumentError(absl::StrCat("transaction_hash: the calldata of ", hash.Hex(),
                                                   " is not the owner action's data (", action.function_signature(),
                                                   " ", action.data(), ")"));
  }
  ASSIGN_OR_RETURN(const std::optional<chain::jsonrpc::Receipt> receipt, rpc.GetTransactionReceipt(hash, call));
  if (!receipt.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("transaction_hash: ", hash.Hex(), " is not mined yet; call again once it is"));
  }
  if (!receipt->success) {
    return absl::InvalidArgumentError(
        absl::StrCat("transaction_hash: ", hash.Hex(), " reverted (status 0) in block ", receipt->block_number));
  }
  if (receipt->block_number < action.watch_from_block()) {
    return absl::InvalidArgumentError(absl::StrCat("transaction_hash: the transaction is older than the wait: block ",
                                                   receipt->block_number, " < ", action.watch_from_block()));
  }
  ASSIGN_OR_RETURN(const uint64_t head, rpc.BlockNumber(call));
  const uint64_t confirmations = Confirmations(chain);
  if (head < receipt->block_number || head - receipt->block_number + 1 < confirmations) {
    return absl::FailedPreconditionError(
        absl::StrCat("transaction_hash: ", hash.Hex(), " is not mined deep enough (block ", receipt->block_number,
                     ", head ", head, ", ", confirmations, " confirmations needed); call again later"));
  }
  const bool has_event = std::any_of(receipt->logs.begin(), receipt->logs.end(), [&](const chain::jsonrpc::Log& l) {
    return !l.removed && MatchesEvent(l, to, event);
  });
  if (!has_event) {
    return absl::InvalidArgumentError(
        absl::StrCat("transaction_hash: ", hash.Hex(), " has no log of the expected event from ", to.Checksummed()));
  }
  return OwnerTx{.transaction_hash = hash, .block_number = receipt->block_number};
}

// Journals the owner's transaction, clears the action and sets the operation RUNNING.
absl::StatusOr<OwnerTx> Found(OpContext& ctx, StepRun& run, OwnerTx tx, absl::string_view submit_request_id) {
  const std::string detail =
      absl::StrCat("the owner's transaction ", tx.transaction_hash.Hex(), " is in block ", tx.block_number);
  RETURN_IF_ERROR(ctx.Update(
      [&](v1::Operation& op, state::FlowState& st) {
        if (state::OwnerWait* w = FindWait(st, run.name())) {
          w->set_transaction_hash(ToField(tx.transaction_hash));
          w->set_block_number(tx.block_number);
          w->set_submit_request_id(std::string(submit_request_id));
        }
        op.set_state(v1::OPERATION_STATE_RUNNING);
        op.clear_owner_action();
        if (v1::Step* s = engine::FindStep(op, run.name())) s->set_detail(detail);
      },
      {engine::Event{v1::OperationEvent::TYPE_STATE_CHANGED, "", tx.transaction_hash.Hex(), detail}}));
  platform::log::Info("the owner acted", {{"op", ctx.id()}, {"step", run.name()}, {"tx", tx.transaction_hash.Hex()}});
  if (ctx.deps().owner_txs != nullptr) ctx.deps().owner_txs->Remove(ctx.id());
  return tx;
}

// One look at the chain: the blocks from the cursor up to the last one with enough
// confirmations, in ranges of at most `window` blocks, each range's end journaled.
absl::StatusOr<std::optional<OwnerTx>> ScanOnce(OpContext& ctx, StepRun& run, const engine::ChainBackend& chain,
                                                const chain::Address& to, const state::ExpectedEvent& event,
                                                uint64_t& window) {
  ASSIGN_OR_RETURN(const uint64_t head, chain.rpc->BlockNumber(ctx.Call(kRpcTimeout)));
  const uint64_t confirmations = Confirmations(chain);
  if (head + 1 < confirmations) return std::nullopt;
  const uint64_t last = head + 1 - confirmations;
  std::vector<chain::Hash32> topic0s;
  for (const std::string& t : Topic0s(event)) {
    ASSIGN_OR_RETURN(const chain::Hash32 h, HashField("owner_waits.event.topic0", t));
    topic0s.push_back(h);
  }
  std::vector<std::optional<std::vector<chain::Hash32>>> topics = {topic0s};
  for (const std::string& t : event.indexed_topics()) {
    if (t.empty()) {
      topics.push_back(std::nullopt);  // any value
      continue;
    }
    ASSIGN_OR_RETURN(const chain::Hash32 h, HashField("owner_waits.event.indexed_topics", t));
    topics.push_back(std::vector<chain::Hash32>{h});
  }
  const state::OwnerWait* w = FindWait(ctx.State(), run.name());
  uint64_t cursor = w != nullptr ? w->next_block() : 0;
  while (cursor <= last) {
    if (ctx.stopping()) return Stopped(ctx, run.name());
    const uint64_t end = std::min(last, cursor + window - 1);
    chain::jsonrpc::LogFilter f;
    f.from_block = chain::jsonrpc::BlockId::Number(cursor);
    f.to_block = chain::jsonrpc::BlockId::Number(end);
    f.addresses = {to};
    f.topics = topics;
    absl::StatusOr<std::vector<chain::jsonrpc::Log>> logs = chain.rpc->GetLogs(f, ctx.Call(kRpcTimeout));
    if (!logs.ok()) {
      const std::optional<chain::jsonrpc::RpcErrorKind> k = chain::jsonrpc::GetRpcErrorKind(logs.status());
      const bool too_wide =
          k == chain::jsonrpc::RpcErrorKind::kLimitExceeded || k == chain::jsonrpc::RpcErrorKind::kInvalidParams;
      if (too_wide && window > 1) {
        window = std::max<uint64_t>(1, window / 4);  // the provider caps the range: narrow it
        continue;
      }
      return logs.status();
    }
    for (const chain::jsonrpc::Log& log : *logs) {
      if (!log.removed && MatchesEvent(log, to, event)) {
        return OwnerTx{.transaction_hash = log.transaction_hash, .block_number = log.block_number};
      }
    }
    cursor = end + 1;
    RETURN_IF_ERROR(ctx.Update([&](v1::Operation&, state::FlowState& st) {
      if (state::OwnerWait* sw = FindWait(st, run.name())) sw->set_next_block(cursor);
    }));
  }
  return std::nullopt;
}

// Journals a new wait with WAITING_FOR_OWNER and the action.
absl::Status BeginWait(OpContext& ctx, StepRun& run, const engine::ChainBackend& chain, const OwnerCall& call) {
  ASSIGN_OR_RETURN(const uint64_t head, chain.rpc->BlockNumber(ctx.Call(kRpcTimeout)));
  v1::OwnerAction a;
  a.set_reason(call.reason.empty()
                   ? absl::StrCat("the app's owner ", call.owner.Checksummed(), " is not a key of the signer")
                   : call.reason);
  a.set_chain_id(call.chain_id);
  a.set_to(call.to.Checksummed());
  a.set_data(chain::ToHex(call.data));
  a.set_owner_address(call.owner.Checksummed());
  a.set_function_signature(call.function_signature);
  if (call.compose_hash.has_value()) a.set_compose_hash(call.compose_hash->Hex());
  if (call.device_id.has_value()) a.set_device_id(call.device_id->Hex());
  a.set_watch_from_block(head);
  state::OwnerWait w;
  w.set_step(run.name());
  w.set_action(a.SerializeAsString());
  *w.mutable_event() = call.event;
  w.set_next_block(head);
  const std::string detail = absl::StrCat(a.reason(), ": waiting for it to send ", call.function_signature, " to ",
                                          a.to(), " (or SubmitOwnerTransaction)");
  RETURN_IF_ERROR(ctx.Update(
      [&](v1::Operation& op, state::FlowState& st) {
        op.set_state(v1::OPERATION_STATE_WAITING_FOR_OWNER);
        *op.mutable_owner_action() = a;
        *st.add_owner_waits() = w;
        if (v1::Step* s = engine::FindStep(op, run.name())) s->set_detail(detail);
      },
      {engine::Event{v1::OperationEvent::TYPE_STATE_CHANGED, "", "", detail}}));
  platform::log::Info("waiting for the app's owner", {{"op", ctx.id()},
                                                      {"step", run.name()},
                                                      {"owner", a.owner_address()},
                                                      {"to", a.to()},
                                                      {"from_block", absl::StrCat(head)}});
  return absl::OkStatus();
}

}  // namespace

state::ExpectedEvent EventWithData(const chain::Hash32& topic0, chain::ByteView data) {
  state::ExpectedEvent e;
  e.set_topic0(ToField(topic0));
  e.set_data(chain::ToHex(data));
  e.set_match_data(true);
  return e;
}

bool MatchesEvent(const chain::jsonrpc::Log& log, const chain::Address& emitter, const state::ExpectedEvent& event) {
  if (log.address != emitter || log.topics.empty()) return false;
  const std::vector<std::string> topic0s = Topic0s(event);
  if (std::find(topic0s.begin(), topic0s.end(), ToField(log.topics[0])) == topic0s.end()) return false;
  if (log.topics.size() < 1 + static_cast<size_t>(event.indexed_topics_size())) return false;
  for (int i = 0; i < event.indexed_topics_size(); ++i) {
    if (!event.indexed_topics(i).empty() && ToField(log.topics[1 + i]) != event.indexed_topics(i)) return false;
  }
  return !event.match_data() || chain::ToHex(log.data) == event.data();
}

absl::StatusOr<chain::Address> ReadAppOwner(OpContext& ctx, const engine::ChainBackend& chain,
                                            const chain::Address& app) {
  absl::StatusOr<chain::Bytes> word = chain.rpc->EthCall({.to = app, .data = chain::EncodeOwnerView()},
                                                         chain::jsonrpc::BlockId::Latest(), ctx.Call(kRpcTimeout));
  if (!word.ok()) return absl::Status(word.status().code(), absl::StrCat("owner(): ", word.status().message()));
  absl::StatusOr<chain::Address> owner = chain::DecodeAddressResult(chain::kOwnerSignature, *word);
  if (!owner.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("app ", app.Checksummed(), " (not a DstackApp?): ", owner.status().message()));
  }
  return *owner;
}

absl::StatusOr<bool> SignerMaySend(OpContext& ctx, const chain::Address& key, uint64_t chain_id) {
  if (!ctx.deps().signer_may_send) return true;
  return ctx.deps().signer_may_send(ctx.Operation().caller(), key, chain_id);
}

bool WaitsForOwner(const state::FlowState& st, absl::string_view step) { return FindWait(st, step) != nullptr; }

absl::StatusOr<OwnerTx> WaitForOwner(OpContext& ctx, StepRun& run, const engine::ChainBackend& chain,
                                     const OwnerCall& call) {
  if (!WaitsForOwner(ctx.State(), run.name())) RETURN_IF_ERROR(BeginWait(ctx, run, chain, call));
  const state::OwnerWait wait = *FindWait(ctx.State(), run.name());
  ASSIGN_OR_RETURN(const v1::OwnerAction action, ActionOf(wait));
  ASSIGN_OR_RETURN(const chain::Address owner, AddressField("owner_action.owner_address", action.owner_address()));
  if (!wait.transaction_hash().empty()) {
    ASSIGN_OR_RETURN(const chain::Hash32 h, HashField("owner_waits.transaction_hash", wait.transaction_hash()));
    return OwnerTx{.transaction_hash = h, .block_number = wait.block_number(), .owner = owner};
  }
  ASSIGN_OR_RETURN(const chain::Address to, AddressField("owner_action.to", action.to()));
  const engine::OwnerWatchOptions& o = ctx.deps().options.owner_watch;
  uint64_t window = std::max<uint64_t>(1, o.log_window);
  absl::Duration poll = o.initial_poll;
  absl::Time next_scan = absl::Now();
  for (;;) {
    if (ctx.stopping()) return Stopped(ctx, run.name());
    if (ctx.deps().owner_txs != nullptr) {
      if (std::optional<engine::OwnerTxInbox::Entry> e = ctx.deps().owner_txs->Peek(ctx.id())) {
        absl::StatusOr<OwnerTx> t =
            VerifyOwnerTx(chain, action, wait.event(), e->transaction_hash, ctx.Call(kRpcTimeout));
        if (t.ok()) {
          t->owner = owner;
          return Found(ctx, run, *t, e->request_id);
        }
        platform::log::Warn("a submitted owner transaction no longer checks out; watching on",
                            {{"op", ctx.id()}, {"error", std::string(t.status().message())}});
        ctx.deps().owner_txs->Remove(ctx.id());
      }
    }
    if (absl::Now() >= next_scan) {
      absl::StatusOr<std::optional<OwnerTx>> f = ScanOnce(ctx, run, chain, to, wait.event(), window);
      if (f.ok() && f->has_value()) {
        (*f)->owner = owner;
        return Found(ctx, run, **f, "");
      }
      if (!f.ok()) {
        const absl::Status& s = f.status();
        if (engine::IsCancelledByClient(s) || engine::IsJournalUnavailable(s) || engine::IsStopping(s) ||
            journal::IsLeaseLost(s)) {
          return s;
        }
        // An RPC outage does not end a wait that may last days: it is retried at the next poll.
        platform::log::Warn("watching for the owner's transaction",
                            {{"op", ctx.id()}, {"error", std::string(s.message())}});
      }
      next_scan = absl::Now() + poll;
      poll = std::min(poll * 2, o.max_poll);
    }
    if (!ctx.Sleep(std::min(kInboxInterval, std::max(absl::ZeroDuration(), next_scan - absl::Now())))) {
      return Stopped(ctx, run.name());
    }
  }
}

absl::StatusOr<v1::Operation> SubmitOwnerTransaction(const engine::FlowDeps& deps, engine::OperationManager& manager,
                                                     const v1::SubmitOwnerTransactionRequest& request) {
  absl::StatusOr<chain::Hash32> hash = chain::Hash32::FromHex(request.transaction_hash());
  if (!hash.ok()) return absl::InvalidArgumentError("transaction_hash: not a 32-byte hex hash");
  ASSIGN_OR_RETURN(auto current, manager.GetWithState(request.operation_id()));
  const auto& [op, st] = current;
  const state::OwnerWait* waiting = nullptr;
  for (const state::OwnerWait& w : st.owner_waits()) {
    if (w.transaction_hash() == ToField(*hash)) return op;  // handed over or found already
    if (w.transaction_hash().empty()) waiting = &w;
  }
  if (op.state() != v1::OPERATION_STATE_WAITING_FOR_OWNER || waiting == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("operation ", op.id(), " is not waiting for the owner (state ",
                                                      v1::OperationState_Name(op.state()).substr(16), ")"));
  }
  if (deps.owner_txs != nullptr) {
    std::optional<engine::OwnerTxInbox::Entry> e = deps.owner_txs->Peek(op.id());
    if (e.has_value() && e->transaction_hash == *hash) return op;
  }
  ASSIGN_OR_RETURN(const v1::OwnerAction action, ActionOf(*waiting));
  auto chain = deps.chains.find(action.chain_id());
  if (chain == deps.chains.end()) {
    return absl::FailedPreconditionError(absl::StrCat("chain ", action.chain_id(), " is not configured"));
  }
  chain::jsonrpc::CallOptions call;
  call.deadline = absl::Now() + kRpcTimeout;
  ASSIGN_OR_RETURN(const OwnerTx tx, VerifyOwnerTx(chain->second, action, waiting->event(), *hash, call));
  platform::log::Info("owner transaction submitted",
                      {{"op", op.id()}, {"tx", tx.transaction_hash.Hex()}, {"block", absl::StrCat(tx.block_number)}});
  if (deps.owner_txs != nullptr) deps.owner_txs->Put(op.id(), {tx.transaction_hash, request.request_id()});
  // The waiting step picks it up within kInboxInterval when it runs in this process; answer
  // with the operation after that when it does.
  const absl::Time until = absl::Now() + absl::Seconds(3);
  for (;;) {
    absl::StatusOr<v1::Operation> now = manager.Get(op.id());
    if (!now.ok() || now->state() != v1::OPERATION_STATE_WAITING_FOR_OWNER || absl::Now() > until) return now;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

}  // namespace orchestrator::flows
