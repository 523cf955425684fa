#include "chain/onchain/operations.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "chain/dstack_app_views.h"
#include "chain/jsonrpc/errors.h"
#include "chain/jsonrpc/json_codec.h"
#include "chain/onchain/receipts.h"
#include "platform/status_macros.h"

namespace chain::onchain {
namespace {

namespace json = boost::json;
using jsonrpc::BlockId;
using jsonrpc::CallOptions;
using jsonrpc::CallRequest;

// FAILED_PRECONDITION for an address without code.
absl::Status NoContract(absl::string_view what, const Address& address, uint64_t chain_id) {
  return absl::FailedPreconditionError(
      absl::StrCat("no contract at the ", what, " address ", address.Checksummed(), " on chain ", chain_id));
}

// `s` with `prefix` in front of its message, payloads kept.
absl::Status Prefixed(const absl::Status& s, absl::string_view prefix) {
  absl::Status out(s.code(), absl::StrCat(prefix, s.message()));
  s.ForEachPayload([&](absl::string_view url, const absl::Cord& p) { out.SetPayload(url, p); });
  return out;
}

// "0.000123 ETH" (exact, trailing zeros trimmed).
std::string Ether(const U256& wei) {
  std::string d = wei.ToDecimal();
  if (d.size() <= 18) d.insert(0, 19 - d.size(), '0');
  std::string whole = d.substr(0, d.size() - 18);
  std::string frac = d.substr(d.size() - 18);
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return absl::StrCat(whole, frac.empty() ? "" : ".", frac, " ETH");
}

}  // namespace

OnchainOperations::OnchainOperations(jsonrpc::Client& rpc, TxSigner& signer, OperationOptions options,
                                     NonceStore* nonce_store)
    : rpc_(rpc), options_(std::move(options)), registry_(rpc, signer, options_.nonces, nonce_store) {}

OnchainOperations::~OnchainOperations() = default;

absl::Status OnchainOperations::CheckChain(uint64_t chain_id, const CallOptions& call) {
  if (chain_id == 0) return absl::InvalidArgumentError("chain_id: required");
  return ChainAnswer(rpc_.ChainId(call), chain_id);
}

absl::Status OnchainOperations::ChainAnswer(const absl::StatusOr<uint64_t>& id, uint64_t chain_id) {
  if (!id.ok()) return Prefixed(id.status(), "chain id check: ");
  if (*id != chain_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("wrong network: the RPC endpoint serves chain ", *id, ", the KMS is on chain ", chain_id));
  }
  return absl::OkStatus();
}

absl::Status OnchainOperations::CheckCode(const Address& address, absl::string_view what, uint64_t chain_id,
                                          const CallOptions& call) {
  absl::StatusOr<Bytes> code = rpc_.GetCode(address, BlockId::Latest(), call);
  if (!code.ok()) return code.status();
  if (code->empty()) return NoContract(what, address, chain_id);
  return absl::OkStatus();
}

absl::StatusOr<OnchainOperations::Preflight> OnchainOperations::FirstChecks(uint64_t chain_id, const Address& contract,
                                                                            const char* contract_name,
                                                                            const RunControl& control) {
  if (chain_id == 0) return absl::InvalidArgumentError("chain_id: required");
  // On resume nothing is prepared again (the journaled transaction is adopted): check the chain
  // now; otherwise the checks ride in the first Prepare's batch.
  if (control.resume.has_value()) {
    RETURN_IF_ERROR(CheckChain(chain_id, control.call));
    return Preflight{};
  }
  return Preflight{.chain_id = chain_id, .contract = contract, .contract_name = contract_name};
}

absl::StatusOr<OnchainOperations::Prepared> OnchainOperations::Prepare(const TxIntent& intent, const Address& sender,
                                                                       const Preflight& checks,
                                                                       const CallOptions& call) {
  // One JSON-RPC batch for every read (one HTTP exchange instead of up to six), checked in the
  // order of the single calls, so the first failure is the one reported.
  const FeePolicy& policy = options_.nonces.fees;
  std::vector<jsonrpc::Client::BatchCall> calls;
  if (checks.chain_id != 0) calls.push_back(jsonrpc::Client::ChainIdCall());
  if (checks.contract.has_value()) calls.push_back(jsonrpc::Client::GetCodeCall(*checks.contract));
  calls.push_back(jsonrpc::Client::EstimateGasCall({.from = sender, .to = intent.to, .data = intent.Calldata()}));
  calls.push_back(
      jsonrpc::Client::FeeHistoryCall(FeeHistoryBlocks(policy), BlockId::Latest(), {policy.reward_percentile}));
  calls.push_back(jsonrpc::Client::MaxPriorityFeePerGasCall());
  calls.push_back(jsonrpc::Client::GetBalanceCall(sender));
  std::vector<absl::StatusOr<json::value>> answers = rpc_.CallEach(calls, call);
  size_t next = 0;
  auto answer = [&]<typename T>(absl::StatusOr<T> (*parse)(const json::value&, absl::string_view),
                                absl::string_view method) -> absl::StatusOr<T> {
    const absl::StatusOr<json::value>& a = answers[next++];
    if (!a.ok()) return a.status();
    return parse(*a, method);
  };

  if (checks.chain_id != 0) RETURN_IF_ERROR(ChainAnswer(answer(&jsonrpc::ParseUint64, "eth_chainId"), checks.chain_id));
  if (checks.contract.has_value()) {
    ASSIGN_OR_RETURN(const bool has_code, answer(&jsonrpc::ParseHasCode, "eth_getCode"));
    if (!has_code) return NoContract(checks.contract_name, *checks.contract, checks.chain_id);
  }
  Prepared p;
  absl::StatusOr<uint64_t> estimate = answer(&jsonrpc::ParseUint64, "eth_estimateGas");
  if (!estimate.ok()) {
    if (jsonrpc::GetRpcErrorKind(estimate.status()) == jsonrpc::RpcErrorKind::kExecutionReverted) {
      return Prefixed(estimate.status(), absl::StrCat(intent.Name(), " would revert: "));
    }
    return Prefixed(estimate.status(), absl::StrCat(intent.Name(), ": gas estimate: "));
  }
  const unsigned __int128 scaled =
      (static_cast<unsigned __int128>(*estimate) * (100 + options_.gas_margin_percent) + 99) / 100;
  if (scaled > options_.max_gas_limit) {
    return absl::FailedPreconditionError(absl::StrCat(intent.Name(), ": estimated gas ", *estimate, " plus ",
                                                      options_.gas_margin_percent, "% exceeds the gas limit cap ",
                                                      options_.max_gas_limit));
  }
  p.gas_limit = static_cast<uint64_t>(scaled);

  const absl::StatusOr<json::value>& history_answer = answers[next++];
  absl::StatusOr<jsonrpc::FeeHistory> history =
      history_answer.ok() ? jsonrpc::ParseFeeHistory(*history_answer) : history_answer.status();
  absl::StatusOr<U256> priority = answer(&jsonrpc::ParseU256, "eth_maxPriorityFeePerGas");
  absl::StatusOr<Fees> fees = history.ok() ? FeesFromMarket(*history, priority, policy) : history.status();
  if (!fees.ok()) return Prefixed(fees.status(), absl::StrCat(intent.Name(), ": "));
  p.fees = *fees;

  absl::StatusOr<Wei> balance = answer(&jsonrpc::ParseU256, "eth_getBalance");
  if (!balance.ok()) return balance.status();
  absl::StatusOr<U256> cost = U256::CheckedMul(U256(p.gas_limit), p.fees.max_fee_per_gas);
  if (cost.ok()) cost = U256::CheckedAdd(*cost, options_.min_balance_reserve);
  if (!cost.ok()) return absl::OutOfRangeError("cost overflow");
  if (*balance < *cost) {
    return absl::FailedPreconditionError(absl::StrCat(
        "insufficient funds: ", sender.Checksummed(), " has ", Ether(*balance), ", ", intent.Name(), " may cost up to ",
        Ether(*cost), " (gas limit ", p.gas_limit, " x max fee ", p.fees.max_fee_per_gas.ToDecimal(), " wei",
        options_.min_balance_reserve.IsZero() ? "" : absl::StrCat(" + reserve ", Ether(options_.min_balance_reserve)),
        ")"));
  }
  return p;
}

absl::StatusOr<MinedTx> OnchainOperations::Execute(uint64_t chain_id, const Address& sender, const TxIntent& intent,
                                                   const std::string& request_id, const RunControl& control,
                                                   const Preflight& first_checks) {
  NonceAllocator& nonces = registry_.For(chain_id, sender);
  bool adopt = control.resume.has_value();
  for (int resigns = 0;; ++resigns) {
    uint64_t nonce = 0;
    if (adopt) {
      adopt = false;
      const TxJournal& j = *control.resume;
      if (j.intent.to != intent.to || j.intent.Calldata() != intent.Calldata()) {
        return absl::InvalidArgumentError(absl::StrCat("resume: the journal holds another call (", j.intent.Name(),
                                                       " to ", j.intent.to.Checksummed(), ")"));
      }
      if (absl::Status s = nonces.Adopt(j, control.on_signed); !s.ok()) return s;
      nonce = j.nonce;
    } else {
      absl::StatusOr<Prepared> p = Prepare(intent, sender, resigns == 0 ? first_checks : Preflight{}, control.call);
      if (!p.ok()) return p.status();
      TxEnvelope env;
      env.request_id = resigns == 0 ? request_id : absl::StrCat(request_id, "/resign", resigns);
      env.gas_limit = p->gas_limit;
      env.max_fee_per_gas = p->fees.max_fee_per_gas;
      env.max_priority_fee_per_gas = p->fees.max_priority_fee_per_gas;
      absl::StatusOr<SignedTx> tx = nonces.SignNext(intent, env, control.on_signed, control.call);
      if (!tx.ok()) return tx.status();
      nonce = tx->nonce;
    }
    absl::StatusOr<MinedTx> mined = nonces.SubmitAndWait(nonce, options_.wait, control.call);
    if (IsNonceConflict(mined.status())) {
      // None of the versions for `nonce` can be mined any more: the step has not happened.
      nonces.ForgetConflicted(nonce);
      if (resigns < options_.max_nonce_conflict_resigns) continue;
      return mined.status();
    }
    nonces.Release(nonce, /*mined=*/mined.ok());
    return mined;
  }
}

absl::StatusOr<DeployAppAuthResult> OnchainOperations::DeployAppAuth(const DeployAppAuthRequest& request,
                                                                     const RunControl& control) {
  if (request.kms.IsZero()) return absl::InvalidArgumentError("kms: required");
  if (request.sender.IsZero()) return absl::InvalidArgumentError("sender: required");
  DeployAndRegisterAppParams params = request.params;
  if (params.initial_owner.IsZero()) params.initial_owner = request.sender;
  // As the SDK does: a specific initial device means "only allowed devices".
  if (!params.initial_device_id.IsZero()) params.allow_any_device = false;
  const TxIntent intent = TxIntent::Deploy(request.kms, params);

  ASSIGN_OR_RETURN(const Preflight checks, FirstChecks(request.chain_id, request.kms, "KMS", control));
  absl::StatusOr<MinedTx> mined =
      Execute(request.chain_id, request.sender, intent, request.request_id, control, checks);
  if (!mined.ok()) return mined.status();

  absl::StatusOr<AppDeployedEvent> event = FindAppDeployed(mined->receipt, request.kms);
  if (!event.ok()) return event.status();
  if (event->deployer != request.sender) {
    return absl::FailedPreconditionError(
        absl::StrCat("transaction ", mined->tx.hash.Hex(), ": AppDeployedViaFactory names deployer ",
                     event->deployer.Checksummed(), ", we sent it from ", request.sender.Checksummed()));
  }
  DeployAppAuthResult r;
  r.app_id = event->app_id;
  r.app_contract = event->app_id;
  r.deployer = event->deployer;
  r.tx_hash = mined->tx.hash;
  r.block_number = mined->receipt.block_number;
  r.block_hash = mined->receipt.block_hash;
  r.gas_used = mined->receipt.gas_used;
  r.effective_gas_price = mined->receipt.effective_gas_price;
  r.nonce = mined->tx.nonce;
  r.versions_signed = mined->versions;
  r.broadcasts = mined->broadcasts;
  r.receipt_vanished = mined->receipt_vanished;
  return r;
}

absl::StatusOr<AddComposeHashResult> OnchainOperations::AddComposeHash(const AddComposeHashRequest& request,
                                                                       const RunControl& control) {
  if (request.app.IsZero()) return absl::InvalidArgumentError("app: required");
  if (request.sender.IsZero()) return absl::InvalidArgumentError("sender: required");
  if (request.compose_hash.IsZero()) return absl::InvalidArgumentError("compose_hash: must be non-zero");
  AddComposeHashResult result;
  result.compose_hash = request.compose_hash;
  result.app = request.app;
  const CallOptions& call = control.call;

  if (absl::Status s = CheckChain(request.chain_id, call); !s.ok()) return s;
  if (!control.resume.has_value()) {
    absl::StatusOr<bool> allowed = CheckOwnerAndAllowed(request, call);
    if (!allowed.ok()) return allowed.status();
    if (*allowed) {
      // Already allowed: report the transaction that did it instead of paying again.
      result.already_allowed = true;
      if (absl::Status s = FindEarlierAddition(request, call, result); !s.ok()) return s;
      return result;
    }
  }

  const TxIntent intent = TxIntent::AddComposeHash(request.app, request.compose_hash);
  absl::StatusOr<MinedTx> mined =
      Execute(request.chain_id, request.sender, intent, request.request_id, control, Preflight{});
  if (!mined.ok()) return mined.status();
  if (absl::Status s = VerifyComposeHashAdded(mined->receipt, request.app, request.compose_hash); !s.ok()) return s;
  result.tx_hash = mined->tx.hash;
  result.block_number = mined->receipt.block_number;
  result.gas_used = mined->receipt.gas_used;
  result.nonce = mined->tx.nonce;
  result.versions_signed = mined->versions;
  result.broadcasts = mined->broadcasts;
  result.receipt_vanished = mined->receipt_vanished;
  return result;
}

absl::StatusOr<MinedTx> OnchainOperations::SendAppCall(const AppCallRequest& request, const RunControl& control) {
  if (request.app.IsZero()) return absl::InvalidArgumentError("app: required");
  if (request.sender.IsZero()) return absl::InvalidArgumentError("sender: required");
  ASSIGN_OR_RETURN(const Preflight checks, FirstChecks(request.chain_id, request.app, "app", control));
  const TxIntent intent = TxIntent::App(request.app, request.call);
  return Execute(request.chain_id, request.sender, intent, request.request_id, control, checks);
}

absl::StatusOr<bool> OnchainOperations::CheckOwnerAndAllowed(const AddComposeHashRequest& request,
                                                             const CallOptions& call) {
  if (absl::Status s = CheckCode(request.app, "app", request.chain_id, call); !s.ok()) return s;
  absl::StatusOr<Bytes> owner_word =
      rpc_.EthCall({.to = request.app, .data = EncodeOwnerView()}, BlockId::Latest(), call);
  if (!owner_word.ok()) return Prefixed(owner_word.status(), "owner(): ");
  absl::StatusOr<Address> owner = DecodeAddressWord(*owner_word);
  if (!owner.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("app ", request.app.Checksummed(), ": owner() did not return an address (not a DstackApp?)"));
  }
  if (*owner != request.sender) {
    return absl::FailedPreconditionError(absl::StrCat("sender ", request.sender.Checksummed(),
                                                      " is not the owner of app ", request.app.Checksummed(),
                                                      " (owner: ", owner->Checksummed(), ")"));
  }
  absl::StatusOr<Bytes> allowed_word = rpc_.EthCall(
      {.to = request.app, .data = EncodeAllowedComposeHashesView(request.compose_hash)}, BlockId::Latest(), call);
  if (!allowed_word.ok()) return Prefixed(allowed_word.status(), "allowedComposeHashes(): ");
  absl::StatusOr<bool> allowed = DecodeBoolWord(*allowed_word);
  if (!allowed.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("app ", request.app.Checksummed(), ": allowedComposeHashes() did not return a bool"));
  }
  return *allowed;
}

absl::Status OnchainOperations::FindEarlierAddition(const AddComposeHashRequest& request, const CallOptions& call,
                                                    AddComposeHashResult& result) {
  absl::StatusOr<uint64_t> head = rpc_.BlockNumber(call);
  if (!head.ok()) return head.status();
  const uint64_t from = std::min(request.log_search_from_block, *head);
  uint64_t window = options_.log_search_window == 0 ? *head - from + 1 : options_.log_search_window;
  std::optional<jsonrpc::Log> best;
  for (uint64_t hi = *head;;) {
    const uint64_t lo = hi - from + 1 > window ? hi - window + 1 : from;
    jsonrpc::LogFilter f;
    f.from_block = BlockId::Number(lo);
    f.to_block = BlockId::Number(hi);
    f.addresses = {request.app};
    f.topics = {std::vector<Hash32>{ComposeHashAddedTopic()}};
    absl::StatusOr<std::vector<jsonrpc::Log>> logs = rpc_.GetLogs(f, call);
    if (!logs.ok()) {
      const std::optional<jsonrpc::RpcErrorKind> k = jsonrpc::GetRpcErrorKind(logs.status());
      const bool too_wide = k == jsonrpc::RpcErrorKind::kLimitExceeded || k == jsonrpc::RpcErrorKind::kInvalidParams;
      if (too_wide && window > 1000) {
        window = std::max<uint64_t>(window / 4, 1000);  // the provider caps the range: narrow it
        continue;
      }
      return Prefixed(logs.status(), "looking for the earlier ComposeHashAdded: ");
    }
    for (const jsonrpc::Log& log : *logs) {
      if (log.removed || !IsComposeHashAdded(log, request.app, request.compose_hash)) continue;
      if (!best.has_value() ||
          std::make_pair(log.block_number, log.log_index) > std::make_pair(best->block_number, best->log_index)) {
        best = log;
      }
    }
    if (best.has_value() || lo == from) break;
    hi = lo - 1;
  }
  if (best.has_value()) {
    result.tx_hash = best->transaction_hash;
    result.block_number = best->block_number;
    absl::StatusOr<std::optional<jsonrpc::Receipt>> receipt = rpc_.GetTransactionReceipt(best->transaction_hash, call);
    if (receipt.ok() && receipt->has_value()) result.gas_used = (*receipt)->gas_used;
  }
  return absl::OkStatus();
}

}  // namespace chain::onchain
