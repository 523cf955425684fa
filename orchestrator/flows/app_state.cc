#include "orchestrator/flows/app_state.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "chain/dstack_app_events.h"
#include "chain/dstack_app_views.h"
#include "chain/dstack_calls.h"
#include "chain/hex.h"
#include "chain/jsonrpc/errors.h"
#include "chain/keccak.h"
#include "chain/u256.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace orchestrator::flows {
namespace {

namespace v1 = ::onchainkms::orchestrator::v1;
using chain::Address;
using chain::Bytes;
using chain::Hash32;
using chain::jsonrpc::BlockId;
using chain::jsonrpc::CallOptions;

constexpr char kImplementationSlot[] = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";

// One read at the query's block.
class Reader {
 public:
  Reader(chain::jsonrpc::Client& rpc, const AppStateQuery& q, uint64_t block, const CallOptions& call)
      : rpc_(rpc), q_(q), block_(BlockId::Number(block)), call_(call) {}

  // The return data of the view call `data` (named `function` in errors); nullopt when it
  // reverts or returns nothing (the function does not exist on this contract version).
  absl::StatusOr<std::optional<Bytes>> View(absl::string_view function, Bytes data) {
    absl::StatusOr<Bytes> out = rpc_.EthCall({.to = q_.app, .data = std::move(data)}, block_, call_);
    if (out.ok()) return out->empty() ? std::nullopt : std::optional<Bytes>(*std::move(out));
    if (chain::jsonrpc::GetRpcErrorKind(out.status()) == chain::jsonrpc::RpcErrorKind::kExecutionReverted) {
      return std::nullopt;
    }
    return absl::Status(out.status().code(), absl::StrCat(function, ": ", out.status().message()));
  }

  // A bool view; false when it reverts (older contracts).
  absl::StatusOr<bool> Flag(absl::string_view function, Bytes data) {
    ASSIGN_OR_RETURN(const std::optional<Bytes> out, View(function, std::move(data)));
    if (!out.has_value()) return false;
    return Checked(chain::DecodeBoolResult(function, *out));
  }

  // An address view; nullopt when it reverts.
  absl::StatusOr<std::optional<Address>> AddressOf(absl::string_view function, Bytes data) {
    ASSIGN_OR_RETURN(const std::optional<Bytes> out, View(function, std::move(data)));
    if (!out.has_value()) return std::nullopt;
    return Checked(chain::DecodeAddressResult(function, *out));
  }

  // version(); 0 when it reverts.
  absl::StatusOr<uint64_t> Version() {
    ASSIGN_OR_RETURN(const std::optional<Bytes> out, View(chain::kVersionSignature, chain::EncodeVersionView()));
    if (!out.has_value()) return 0;
    ASSIGN_OR_RETURN(const chain::U256 v, Checked(chain::DecodeUint256Result(chain::kVersionSignature, *out)));
    return v.FitsUint64() ? v.Low64() : UINT64_MAX;
  }

  absl::StatusOr<std::string> Implementation() {
    boost::json::array params{boost::json::value(q_.app.Checksummed()), boost::json::value(kImplementationSlot),
                              boost::json::value(block_.ToParam())};
    ASSIGN_OR_RETURN(const boost::json::value v, rpc_.Call("eth_getStorageAt", std::move(params), call_));
    if (!v.is_string()) return absl::InternalError("eth_getStorageAt: not a string");
    absl::StatusOr<Bytes> word = chain::FromHex(std::string(v.as_string()));
    if (!word.ok() || word->size() != 32) return absl::InternalError("eth_getStorageAt: not a 32-byte word");
    absl::StatusOr<Address> a = Address::FromBytes(chain::ByteView(word->data() + 12, 20));
    return a.ok() && !a->IsZero() ? a->Checksummed() : std::string();
  }

  // See the header: an UpgradesDisabled log, or an initializing factory call with
  // disableUpgrades set.
  absl::StatusOr<bool> UpgradesDisabled() {
    const Hash32& disabled = chain::UpgradesDisabledTopic();
    const Hash32 initialized = chain::Keccak256(absl::string_view("Initialized(uint64)"));
    chain::jsonrpc::LogFilter f;
    f.from_block = BlockId::Number(0);
    f.to_block = block_;
    f.addresses = {q_.app};
    f.topics = {std::vector<Hash32>{disabled, initialized}};
    absl::StatusOr<std::vector<chain::jsonrpc::Log>> logs = rpc_.GetLogs(f, call_);
    if (!logs.ok()) {
      return absl::Status(logs.status().code(), absl::StrCat("UpgradesDisabled logs: ", logs.status().message()));
    }
    std::optional<Hash32> init_tx;
    for (const chain::jsonrpc::Log& log : *logs) {
      if (log.removed || log.topics.empty()) continue;
      if (log.topics[0] == disabled) return true;
      if (log.topics[0] == initialized && !init_tx.has_value()) init_tx = log.transaction_hash;
    }
    if (!init_tx.has_value()) return false;
    ASSIGN_OR_RETURN(const std::optional<chain::jsonrpc::TransactionInfo> tx,
                     rpc_.GetTransactionByHash(*init_tx, call_));
    if (!tx.has_value()) return false;
    absl::StatusOr<chain::DeployAndRegisterAppParams> p = chain::DecodeDeployAndRegisterApp(tx->input);
    return p.ok() && p->disable_upgrades;
  }

 private:
  // A return value that does not decode: not the DstackApp interface.
  template <typename T>
  absl::StatusOr<T> Checked(absl::StatusOr<T> v) {
    if (v.ok()) return v;
    return absl::FailedPreconditionError(
        absl::StrCat("app ", q_.app.Checksummed(), ": ", v.status().message(), " (not a DstackApp?)"));
  }

  chain::jsonrpc::Client& rpc_;
  const AppStateQuery& q_;
  const BlockId block_;
  const CallOptions& call_;
};

absl::Status Allowances(Reader& r, absl::string_view getter, Bytes (*encode)(const Hash32&),
                        const std::vector<Hash32>& values, google::protobuf::RepeatedPtrField<v1::Allowance>* out) {
  for (const Hash32& v : values) {
    ASSIGN_OR_RETURN(const bool allowed, r.Flag(getter, encode(v)));
    v1::Allowance* a = out->Add();
    a->set_value(v.Hex());
    a->set_allowed(allowed);
  }
  return absl::OkStatus();
}

// A provider's refusal of a wide eth_getLogs range (a block-range cap, "too many results").
bool RangeRefused(const absl::Status& s) {
  const std::optional<chain::jsonrpc::RpcErrorKind> k = chain::jsonrpc::GetRpcErrorKind(s);
  return k == chain::jsonrpc::RpcErrorKind::kLimitExceeded || k == chain::jsonrpc::RpcErrorKind::kInvalidParams;
}

}  // namespace

absl::StatusOr<v1::AppState> ReadAppState(chain::jsonrpc::Client& rpc, const AppStateQuery& q,
                                          const CallOptions& call) {
  uint64_t block = 0;
  if (q.block.has_value()) {
    block = *q.block;
  } else {
    ASSIGN_OR_RETURN(block, rpc.BlockNumber(call));
  }
  ASSIGN_OR_RETURN(const Bytes code, rpc.GetCode(q.app, BlockId::Number(block), call));
  if (code.empty()) {
    return absl::NotFoundError(absl::StrCat("app_contract_address: no contract at ", q.app.Checksummed(), " on chain ",
                                            q.chain_id, " (block ", block, ")"));
  }
  Reader r(rpc, q, block, call);
  v1::AppState s;
  s.set_chain_id(q.chain_id);
  s.set_app_contract_address(q.app.Checksummed());
  s.set_block_number(block);
  ASSIGN_OR_RETURN(const std::optional<Address> owner, r.AddressOf(chain::kOwnerSignature, chain::EncodeOwnerView()));
  if (!owner.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("app ", q.app.Checksummed(), ": owner() reverts (not a DstackApp?)"));
  }
  s.set_owner(owner->Checksummed());
  if (q.signer_keys.has_value()) {
    s.set_owner_is_signer_key(std::find(q.signer_keys->begin(), q.signer_keys->end(), *owner) != q.signer_keys->end());
  }
  ASSIGN_OR_RETURN(const std::optional<Address> pending,
                   r.AddressOf(chain::kPendingOwnerSignature, chain::EncodePendingOwnerView()));
  s.set_two_step_ownership(pending.has_value());
  if (pending.has_value() && !pending->IsZero()) s.set_pending_owner(pending->Checksummed());
  ASSIGN_OR_RETURN(const bool any, r.Flag(chain::kAllowAnyDeviceSignature, chain::EncodeAllowAnyDeviceView()));
  s.set_allow_any_device(any);
  ASSIGN_OR_RETURN(const bool tcb, r.Flag(chain::kRequireTcbUpToDateSignature, chain::EncodeRequireTcbUpToDateView()));
  s.set_require_tcb_up_to_date(tcb);
  ASSIGN_OR_RETURN(const uint64_t version, r.Version());
  s.set_version(version);
  if (q.upgrades_disabled != AppStateQuery::UpgradesDisabledRead::kSkip) {
    absl::StatusOr<bool> disabled = r.UpgradesDisabled();
    if (!disabled.ok() && q.upgrades_disabled == AppStateQuery::UpgradesDisabledRead::kBestEffort &&
        RangeRefused(disabled.status())) {
      platform::log::Warn("the provider refuses eth_getLogs from block 0: upgrades_disabled reads false",
                          {{"app", q.app.Checksummed()}, {"error", std::string(disabled.status().message())}});
      disabled = false;
    }
    RETURN_IF_ERROR(disabled.status());
    s.set_upgrades_disabled(*disabled);
  }
  ASSIGN_OR_RETURN(const std::string implementation, r.Implementation());
  s.set_implementation_address(implementation);
  RETURN_IF_ERROR(Allowances(r, chain::kAllowedDeviceIdsSignature, &chain::EncodeAllowedDeviceIdsView, q.device_ids,
                             s.mutable_devices()));
  RETURN_IF_ERROR(Allowances(r, chain::kAllowedComposeHashesSignature, &chain::EncodeAllowedComposeHashesView,
                             q.compose_hashes, s.mutable_compose_hashes()));
  return s;
}

}  // namespace orchestrator::flows
