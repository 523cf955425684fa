#include "chain/onchain/nonce_allocator.h"

#include <algorithm>
#include <utility>

#include <boost/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chain/hex.h"
#include "chain/jsonrpc/errors.h"

namespace chain::onchain {
namespace {

namespace json = boost::json;
using jsonrpc::CallOptions;
using jsonrpc::GetRpcErrorKind;
using jsonrpc::RpcErrorKind;

// What a failed eth_sendRawTransaction means for a transaction we keep tracking.
enum class SendOutcome {
  kAccepted,     // the node has it (or had it: decided by polling receipts)
  kUnderpriced,  // below the node's floor or base fee: bump
  kFatal,        // will not go through as is: stop and report
};

SendOutcome Classify(const absl::Status& s) {
  if (s.ok()) return SendOutcome::kAccepted;
  if (jsonrpc::IsRetryable(s)) return SendOutcome::kAccepted;  // outcome unknown: poll by hash
  const std::optional<RpcErrorKind> kind = GetRpcErrorKind(s);
  if (!kind.has_value()) return SendOutcome::kFatal;
  switch (*kind) {
    case RpcErrorKind::kAlreadyKnown:
    case RpcErrorKind::kNonceTooLow:             // ours mined, or another's: polling decides
    case RpcErrorKind::kReplacementUnderpriced:  // another version of ours holds the slot
    case RpcErrorKind::kNonceTooHigh:            // some nodes refuse gaps: a heal fills them
      return SendOutcome::kAccepted;
    case RpcErrorKind::kUnderpriced:
      return SendOutcome::kUnderpriced;
    default:
      return SendOutcome::kFatal;
  }
}

// Oldest (lowest fees) first: the newest version is the last.
void SortVersions(std::vector<SignedTx>& v) {
  std::stable_sort(v.begin(), v.end(),
                   [](const SignedTx& a, const SignedTx& b) { return a.max_fee_per_gas < b.max_fee_per_gas; });
}

constexpr char kNonceConflictPayload[] = "type.onchain-kms/chain.onchain.NonceConflict";

}  // namespace

bool IsNonceConflict(const absl::Status& status) {
  return absl::IsAborted(status) && status.GetPayload(kNonceConflictPayload).has_value();
}

NonceAllocator::NonceAllocator(jsonrpc::Client& rpc, TxSigner& signer, uint64_t chain_id, const Address& sender,
                               NonceAllocatorOptions options, NonceStore* store)
    : rpc_(rpc), signer_(signer), chain_id_(chain_id), sender_(sender), options_(std::move(options)), store_(store) {}

NonceAllocator::~NonceAllocator() = default;

// A SignNext waiting in its sender's queue; the leader of the queue fills `result`.
struct NonceAllocator::Queued {
  const TxIntent* intent;
  TxEnvelope envelope;
  JournalFn journal;
  const CallOptions* opts;
  std::optional<absl::StatusOr<SignedTx>> result;  // under queue_mu_
};

absl::StatusOr<SignedTx> NonceAllocator::SignNext(const TxIntent& intent, TxEnvelope envelope, JournalFn journal,
                                                  const CallOptions& opts) {
  if (store_ != nullptr) return SignNextShared(intent, std::move(envelope), std::move(journal), opts);
  // Group signing, as the signer's group commit: whoever finds no leader leads, signing what
  // queued up meanwhile in one batch per round until its own request is decided, then hands over.
  // A lone request is signed at once, as one call.
  Queued me{&intent, std::move(envelope), std::move(journal), &opts, std::nullopt};
  bool lead = false;
  {
    absl::MutexLock l(&queue_mu_);
    queue_.push_back(&me);
    auto decided_or_leaderless = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
      return me.result.has_value() || !leading_;
    };
    queue_mu_.Await(absl::Condition(&decided_or_leaderless));
    lead = !me.result.has_value();
    if (lead) leading_ = true;
  }
  while (lead) {
    std::vector<Queued*> batch;
    {
      absl::MutexLock l(&queue_mu_);
      if (me.result.has_value()) {
        leading_ = false;
        break;
      }
      const size_t n = std::min<size_t>(queue_.size(), std::max<size_t>(options_.max_sign_batch, 1));
      batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    SignQueued(batch);
  }
  absl::StatusOr<SignedTx> tx = *std::move(me.result);
  if (!tx.ok()) return tx.status();
  return Journaled(*std::move(tx));
}

void NonceAllocator::SignQueued(const std::vector<Queued*>& batch) {
  // The round's reads serve every request in it: no one request's cancellation or deadline may
  // fail the others (the latest deadline; cancellation is checked by each operation itself).
  CallOptions round{.deadline = absl::InfinitePast()};
  for (const Queued* q : batch) round.deadline = std::max(round.deadline, q->opts->deadline);
  std::vector<absl::StatusOr<SignedTx>> results = SignBatchLocked(batch, round);
  absl::MutexLock l(&queue_mu_);
  // Not started (an earlier item was refused): back to the front, in order, for the next round
  // at the nonces the refusal left free.
  for (size_t i = batch.size(); i-- > 0;) {
    if (IsNotStarted(results[i].status())) {
      queue_.push_front(batch[i]);
    } else {
      batch[i]->result = std::move(results[i]);
    }
  }
}

std::vector<absl::StatusOr<SignedTx>> NonceAllocator::SignBatchLocked(const std::vector<Queued*>& batch,
                                                                      const CallOptions& opts) {
  absl::MutexLock sign_lock(&sign_mu_);
  bool need_read = false;
  {
    absl::MutexLock l(&mu_);
    need_read = !next_nonce_.has_value() || records_.empty();
  }
  if (need_read) {
    absl::StatusOr<uint64_t> pending = rpc_.GetTransactionCount(sender_, jsonrpc::BlockId::Pending(), opts);
    if (!pending.ok()) return std::vector<absl::StatusOr<SignedTx>>(batch.size(), pending.status());
    absl::MutexLock l(&mu_);
    const uint64_t floor = records_.empty() ? 0 : records_.rbegin()->first + 1;
    next_nonce_ = std::max(*pending, floor);
    gaps_.erase(gaps_.begin(), gaps_.lower_bound(*pending));
    if (records_.empty()) gaps_.clear();
  }
  std::vector<TxRequest> requests;
  requests.reserve(batch.size());
  {
    // Gaps first (a refusal an older signer did not stop at), then the next nonces.
    absl::MutexLock l(&mu_);
    auto gap = gaps_.begin();
    uint64_t next = *next_nonce_;
    for (Queued* q : batch) {
      q->envelope.chain_id = chain_id_;
      q->envelope.from = sender_;
      q->envelope.nonce = gap != gaps_.end() ? *gap++ : next++;
      requests.push_back(TxRequest{q->envelope, *q->intent});
    }
  }
  // One request is one plain call: a lone deploy pays nothing for batching.
  std::vector<absl::StatusOr<SignedTx>> results;
  if (requests.size() == 1) {
    results.push_back(SignIntent(signer_, requests[0].envelope, requests[0].intent));
  } else {
    results = SignIntents(signer_, requests);
  }
  absl::MutexLock l(&mu_);
  std::optional<uint64_t> highest_signed;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!results[i].ok()) continue;
    TrackFirst(*batch[i]->intent, batch[i]->envelope.request_id, *results[i], std::move(batch[i]->journal));
    gaps_.erase(results[i]->nonce);
    highest_signed = results[i]->nonce;
  }
  // A failed item below a signed one left a gap (never with a signer that stops at a refusal):
  // the next request fills it, or the signed ones after it could never be mined.
  for (size_t i = 0; highest_signed.has_value() && i < batch.size(); ++i) {
    if (!results[i].ok() && requests[i].envelope.nonce < *highest_signed) gaps_.insert(requests[i].envelope.nonce);
  }
  return results;
}

void NonceAllocator::TrackFirst(const TxIntent& intent, const std::string& request_id, const SignedTx& tx,
                                JournalFn journal) {
  Record& r = records_[tx.nonce];
  r.intent = intent;
  r.request_id = request_id;
  r.versions = {tx};
  r.last_signed = absl::Now();
  r.waiters = 1;
  r.journal = std::move(journal);
  next_nonce_ = std::max(next_nonce_.value_or(0), tx.nonce + 1);
  ++stats_.signed_first;
  Notify(TxEvent::kSent);
}

void NonceAllocator::Notify(TxEvent event, size_t times) const {
  if (!options_.observer) return;
  for (size_t i = 0; i < times; ++i) options_.observer(event);
}

bool NonceAllocator::AddVersions(std::vector<SignedTx>& into, const std::vector<SignedTx>& from) {
  bool added = false;
  for (const SignedTx& v : from) {
    if (std::none_of(into.begin(), into.end(), [&](const SignedTx& x) { return x.hash == v.hash; })) {
      into.push_back(v);
      added = true;
    }
  }
  SortVersions(into);
  return added;
}

absl::StatusOr<SignedTx> NonceAllocator::Journaled(SignedTx tx) {
  const uint64_t nonce = tx.nonce;
  if (absl::Status s = CallJournal(nonce); !s.ok()) {
    // The signature exists and owns the nonce: keep it tracked so Maintain can still fill the
    // gap after journal_grace, but the caller stops here, before any broadcast of its own.
    Release(nonce);
    return absl::Status(s.code(), absl::StrCat("journal of ", tx.hash.Hex(), " (nonce ", nonce, "): ", s.message()));
  }
  {
    absl::MutexLock l(&mu_);
    if (auto it = records_.find(nonce); it != records_.end()) it->second.journaled = true;
  }
  return tx;
}

absl::Status NonceAllocator::Adopt(const TxJournal& journal, JournalFn journal_fn) {
  if (journal.versions.empty()) return absl::InvalidArgumentError("adopt: empty journal");
  if (journal.chain_id != chain_id_ || journal.from != sender_) {
    return absl::InvalidArgumentError(absl::StrCat("adopt: journal of chain ", journal.chain_id, " sender ",
                                                   journal.from.Checksummed(), ", this allocator is chain ", chain_id_,
                                                   " sender ", sender_.Checksummed()));
  }
  absl::MutexLock l(&mu_);
  auto it = records_.find(journal.nonce);
  if (it == records_.end()) {
    Record& r = records_[journal.nonce];
    r.intent = journal.intent;
    r.versions = journal.versions;
    SortVersions(r.versions);
    r.last_signed = absl::Now();
    r.waiters = 1;
    r.journal = std::move(journal_fn);
    r.journaled = true;  // it comes from a journal
  } else {
    Record& r = it->second;
    if (r.intent.to != journal.intent.to || r.intent.Calldata() != journal.intent.Calldata()) {
      return absl::InvalidArgumentError(absl::StrCat("adopt: nonce ", journal.nonce, " is tracked for another call"));
    }
    AddVersions(r.versions, journal.versions);
    ++r.waiters;
    if (journal_fn) r.journal = std::move(journal_fn);
  }
  if (next_nonce_.has_value() && *next_nonce_ <= journal.nonce) next_nonce_ = journal.nonce + 1;
  return absl::OkStatus();
}

void NonceAllocator::Release(uint64_t nonce, bool mined) {
  absl::MutexLock l(&mu_);
  auto it = records_.find(nonce);
  if (it == records_.end()) return;
  if (it->second.waiters > 0) --it->second.waiters;
  if (mined && it->second.waiters == 0) records_.erase(it);
}

void NonceAllocator::ForgetConflicted(uint64_t nonce) {
  // The store keeps it CONFLICTED, so no process chooses it again (best effort: the chain's
  // count is above it anyway).
  if (store_ != nullptr) (void)store_->Conflicted(chain_id_, sender_, nonce);
  absl::MutexLock l(&mu_);
  records_.erase(nonce);
  next_nonce_.reset();
}

std::vector<SignedTx> NonceAllocator::Versions(uint64_t nonce) const {
  absl::MutexLock l(&mu_);
  auto it = records_.find(nonce);
  return it == records_.end() ? std::vector<SignedTx>() : it->second.versions;
}

std::optional<TxJournal> NonceAllocator::Journal(uint64_t nonce) const {
  absl::MutexLock l(&mu_);
  auto it = records_.find(nonce);
  if (it == records_.end()) return std::nullopt;
  TxJournal j;
  j.chain_id = chain_id_;
  j.from = sender_;
  j.nonce = nonce;
  j.intent = it->second.intent;
  j.versions = it->second.versions;
  return j;
}

absl::Status NonceAllocator::CallJournal(uint64_t nonce, const SignedTx* extra) {
  JournalFn fn;
  {
    absl::MutexLock l(&mu_);
    auto it = records_.find(nonce);
    if (it == records_.end() || !it->second.journal) return absl::OkStatus();
    fn = it->second.journal;
  }
  std::optional<TxJournal> j = Journal(nonce);
  if (!j.has_value()) return absl::OkStatus();
  if (extra != nullptr) {
    j->versions.push_back(*extra);
    SortVersions(j->versions);
  }
  return fn(*j);
}

NonceAllocator::Stats NonceAllocator::stats() const {
  uint64_t queued = 0;
  {
    absl::MutexLock l(&queue_mu_);
    queued = queue_.size();
  }
  absl::MutexLock l(&mu_);
  Stats s = stats_;
  s.queued = queued;
  s.in_flight = records_.size();
  s.next_nonce = next_nonce_;
  return s;
}

absl::StatusOr<Hash32> NonceAllocator::Broadcast(const SignedTx& tx, const CallOptions& opts) {
  {
    absl::MutexLock l(&mu_);
    if (auto it = records_.find(tx.nonce); it != records_.end()) it->second.last_broadcast = absl::Now();
  }
  return rpc_.SendRawTransaction(tx.raw, opts);
}

absl::StatusOr<std::optional<std::pair<jsonrpc::Receipt, SignedTx>>> NonceAllocator::FindReceipt(
    const std::vector<SignedTx>& versions, const CallOptions& opts) {
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    absl::StatusOr<std::optional<jsonrpc::Receipt>> r = rpc_.GetTransactionReceipt(it->hash, opts);
    if (!r.ok()) return r.status();
    if (r->has_value()) return std::optional<std::pair<jsonrpc::Receipt, SignedTx>>(std::make_pair(**r, *it));
  }
  return std::optional<std::pair<jsonrpc::Receipt, SignedTx>>();
}

absl::StatusOr<bool> NonceAllocator::AnyKnown(const std::vector<SignedTx>& versions, const CallOptions& opts) {
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    absl::StatusOr<std::optional<jsonrpc::TransactionInfo>> t = rpc_.GetTransactionByHash(it->hash, opts);
    if (!t.ok()) return t.status();
    if (t->has_value()) return true;
  }
  return false;
}

absl::StatusOr<TxEnvelope> NonceAllocator::BumpEnvelope(const SignedTx& newest, const std::string& request_id,
                                                        size_t count, const CallOptions& opts) {
  absl::StatusOr<Fees> market = EstimateFees(rpc_, options_.fees, opts);
  if (!market.ok()) return market.status();
  absl::StatusOr<Fees> fees =
      onchain::BumpFees(Fees{newest.max_fee_per_gas, newest.max_priority_fee_per_gas, U256()}, *market, options_.fees);
  if (!fees.ok()) return fees.status();
  TxEnvelope env;
  env.request_id = request_id.empty() ? "" : absl::StrCat(request_id, "/bump", count);
  env.chain_id = chain_id_;
  env.from = sender_;
  env.nonce = newest.nonce;
  env.gas_limit = newest.gas_limit;
  env.max_fee_per_gas = fees->max_fee_per_gas;
  env.max_priority_fee_per_gas = fees->max_priority_fee_per_gas;
  return env;
}

void NonceAllocator::BumpStuck(uint64_t nonce, const CallOptions& opts) {
  // Errors (caps, signer, another process bumped it lately) leave the transaction as it is.
  if (store_ != nullptr) {
    (void)BumpFeesShared(nonce, opts, /*only_if_stuck=*/true);
  } else {
    (void)BumpFees(nonce, opts);
  }
}

absl::StatusOr<SignedTx> NonceAllocator::BumpFees(uint64_t nonce, const CallOptions& opts) {
  if (store_ != nullptr) return BumpFeesShared(nonce, opts, /*only_if_stuck=*/false);
  SignedTx bumped;
  {
    absl::MutexLock sign_lock(&sign_mu_);
    TxIntent intent;
    SignedTx newest;
    std::string request_id;
    size_t count = 0;
    {
      absl::MutexLock l(&mu_);
      auto it = records_.find(nonce);
      if (it == records_.end()) return absl::NotFoundError(absl::StrCat("fee bump: nonce ", nonce, " is not tracked"));
      it->second.last_bump_attempt = absl::Now();
      intent = it->second.intent;
      newest = it->second.versions.back();
      request_id = it->second.request_id;
      count = it->second.versions.size();
    }
    absl::StatusOr<TxEnvelope> env = BumpEnvelope(newest, request_id, count, opts);
    if (!env.ok()) return env.status();
    absl::StatusOr<SignedTx> s = SignIntent(signer_, *env, intent);
    if (!s.ok()) return s.status();
    bumped = *std::move(s);
    // Journaled before anyone can broadcast it: the version joins the record only afterwards.
    if (absl::Status j = CallJournal(nonce, &bumped); !j.ok()) {
      return absl::Status(j.code(), absl::StrCat("journal of fee bump ", bumped.hash.Hex(), ": ", j.message()));
    }
    absl::MutexLock l(&mu_);
    auto it = records_.find(nonce);
    if (it == records_.end())
      return absl::NotFoundError(absl::StrCat("fee bump: nonce ", nonce, " was mined meanwhile"));
    it->second.versions.push_back(bumped);
    SortVersions(it->second.versions);
    it->second.last_signed = absl::Now();
    ++stats_.fee_bumps;
    Notify(TxEvent::kFeeBump);
  }
  return BroadcastBump(std::move(bumped), opts);
}

absl::StatusOr<SignedTx> NonceAllocator::BroadcastBump(SignedTx bumped, const CallOptions& opts) {
  absl::StatusOr<Hash32> sent = Broadcast(bumped, opts);
  if (Classify(sent.status()) == SendOutcome::kFatal) return sent.status();
  return bumped;
}

void NonceAllocator::Maintain(const CallOptions& opts) {
  {
    absl::MutexLock l(&mu_);
    if (absl::Now() - last_maintain_ < options_.maintain_interval) return;
  }
  if (!maintain_mu_.TryLock()) return;
  {
    absl::MutexLock l(&mu_);
    last_maintain_ = absl::Now();
  }
  MaintainLocked(opts);
  maintain_mu_.Unlock();
}

void NonceAllocator::MaintainLocked(const CallOptions& opts) {
  absl::StatusOr<uint64_t> latest = rpc_.GetTransactionCount(sender_, jsonrpc::BlockId::Latest(), opts);
  if (!latest.ok()) return;
  if (store_ != nullptr) SyncFromStore(*latest, opts);
  struct Pending {
    uint64_t nonce;
    std::vector<SignedTx> versions;
    absl::Time stuck_since;  // last signature or failed bump attempt
  };
  std::vector<Pending> pending;
  {
    absl::MutexLock l(&mu_);
    for (auto it = records_.begin(); it != records_.end();) {
      if (it->first < *latest) {
        if (it->second.waiters == 0) {
          it = records_.erase(it);
          continue;
        }
      } else {
        // Not before its journal returned (within the grace), and not while its own operation
        // is broadcasting it (nothing sent for the last maintain_interval).
        const absl::Time now = absl::Now();
        const bool may_broadcast =
            (it->second.journaled || now - it->second.last_signed >= options_.journal_grace) &&
            now - std::max(it->second.last_signed, it->second.last_broadcast) >= options_.maintain_interval;
        // One its own operation is still broadcasting is neither healed nor bumped: not asked about.
        if (may_broadcast) {
          pending.push_back(
              {it->first, it->second.versions, std::max(it->second.last_signed, it->second.last_bump_attempt)});
        }
      }
      ++it;
    }
  }
  if (pending.empty()) return;

  // Which versions does the node know? One batch for all of them.
  std::vector<jsonrpc::Client::BatchCall> calls;
  for (const Pending& p : pending) {
    for (const SignedTx& v : p.versions) calls.push_back({"eth_getTransactionByHash", {json::string(v.hash.Hex())}});
  }
  absl::StatusOr<std::vector<absl::StatusOr<json::value>>> answers = rpc_.Batch(calls, opts);
  if (!answers.ok()) return;
  size_t k = 0;
  for (const Pending& p : pending) {
    bool known = false;
    bool unsure = false;
    for (size_t i = 0; i < p.versions.size(); ++i, ++k) {
      const absl::StatusOr<json::value>& a = (*answers)[k];
      if (!a.ok()) {
        unsure = true;
      } else if (!a->is_null()) {
        known = true;
      }
    }
    if (unsure) continue;
    if (!known) {
      // Dropped, evicted, never sent (its operation was cancelled), or removed by a reorg:
      // the same bytes again.
      absl::StatusOr<Hash32> sent = Broadcast(p.versions.back(), opts);
      const SendOutcome outcome = Classify(sent.status());
      if (outcome == SendOutcome::kUnderpriced) {
        // The market moved above its max fee (anvil even evicts such transactions from its
        // pool): the same bytes cannot come back, a fee bump of the same call can.
        (void)BumpFees(p.nonce, opts);
      } else if (outcome == SendOutcome::kAccepted) {
        absl::MutexLock l(&mu_);
        ++stats_.rebroadcasts;
        Notify(TxEvent::kRebroadcast);
      }
      continue;
    }
    if (p.nonce == *latest && absl::Now() - p.stuck_since >= options_.stuck_after) {
      BumpStuck(p.nonce, opts);
    }
  }
}

// One SubmitAndWait in progress: what it waits for, what it has seen so far.
struct NonceAllocator::WaitState {
  const uint64_t nonce;
  const WaitOptions& wait;
  const CallOptions call;
  const std::string what;  // "transaction 0x.. (nonce N)", for errors
  std::vector<SignedTx> versions;
  MinedTx out;
  bool seen_receipt = false;
  // When the node last accepted one of our broadcasts in this wait: it knows the transaction
  // then, so polls within a poll_interval of it do not ask (one exchange less per poll).
  absl::Time accepted_send = absl::InfinitePast();
  // This wait's broadcast was the first the node heard of the nonce's only version: no receipt
  // can exist unless the node mines on arrival.
  bool fresh = false;
  int conflict_polls = 0;
  absl::Status last_error;
};

absl::StatusOr<MinedTx> NonceAllocator::SubmitAndWait(uint64_t nonce, const WaitOptions& wait,
                                                      const CallOptions& opts) {
  const std::vector<SignedTx> versions = Versions(nonce);
  if (versions.empty()) return absl::NotFoundError(absl::StrCat("nonce ", nonce, " is not tracked"));
  WaitState w{.nonce = nonce,
              .wait = wait,
              .call = CallOptions{std::min(opts.deadline, absl::Now() + wait.timeout), opts.cancel},
              .what = absl::StrCat("transaction ", versions.back().hash.Hex(), " (nonce ", nonce, ")")};
  if (absl::Status s = SendNewest(w); !s.ok()) return s;

  absl::Duration sleep = std::min(wait.first_poll, wait.poll_interval);
  bool at_once = !w.fresh || PollAtOnce(wait);
  // A poll at once after a fresh broadcast tells whether the next ones pay (PollAtOnce).
  bool counts = w.fresh && at_once;
  while (true) {
    if (at_once) {
      w.versions = Versions(nonce);
      if (w.versions.empty()) return absl::NotFoundError(absl::StrCat("nonce ", nonce, " is no longer tracked"));
      std::optional<absl::StatusOr<MinedTx>> done = Poll(w);
      if (counts) {
        counts = false;
        absl::MutexLock l(&mu_);
        poll_at_once_missed_ = !done.has_value();
        poll_at_once_skipped_ = 0;
      }
      if (done.has_value()) return *std::move(done);
      Maintain(w.call);
    }
    at_once = true;
    if (!w.call.Sleep(sleep)) {
      absl::Status s = w.call.Check("wait");
      const absl::StatusCode code = s.ok() ? absl::StatusCode::kDeadlineExceeded : s.code();
      return absl::Status(
          code,
          absl::StrCat("waiting for ", w.what, ": ", code == absl::StatusCode::kCancelled ? "cancelled" : "timed out",
                       "; it stays tracked and can be resumed",
                       w.last_error.ok() ? "" : absl::StrCat("; last error: ", w.last_error.message())));
    }
    sleep = std::min(sleep * 2, wait.poll_interval);
  }
}

bool NonceAllocator::PollAtOnce(const WaitOptions& wait) {
  absl::MutexLock l(&mu_);
  if (!poll_at_once_missed_) return true;
  if (++poll_at_once_skipped_ < std::max(wait.recheck_poll_at_once, 1)) return false;
  poll_at_once_skipped_ = 0;
  return true;
}

absl::Status NonceAllocator::SendNewest(WaitState& w) {
  const std::vector<SignedTx> now = Versions(w.nonce);
  if (now.empty()) return absl::OkStatus();
  absl::StatusOr<Hash32> sent = Broadcast(now.back(), w.call);
  ++w.out.broadcasts;
  w.fresh = sent.ok() && now.size() == 1;
  switch (Classify(sent.status())) {
    case SendOutcome::kAccepted:
      w.accepted_send = absl::Now();
      return absl::OkStatus();
    case SendOutcome::kUnderpriced:
      (void)BumpFees(w.nonce, w.call);  // market moved above our fee: replace now
      return absl::OkStatus();
    case SendOutcome::kFatal:
      break;
  }
  return absl::Status(
      sent.status().code(),
      absl::StrCat("broadcast of ", now.back().hash.Hex(), " (nonce ", w.nonce, "): ", sent.status().message(),
                   "; the signed transaction stays tracked and is re-sent by later operations "
                   "of this key: resume with its journal to follow it"));
}

std::optional<absl::StatusOr<MinedTx>> NonceAllocator::Poll(WaitState& w) {
  absl::StatusOr<std::optional<std::pair<jsonrpc::Receipt, SignedTx>>> found = FindReceipt(w.versions, w.call);
  if (!found.ok()) {
    w.last_error = found.status();
    return std::nullopt;
  }
  if (found->has_value()) return OnReceipt(w, (*found)->first, (*found)->second);
  if (absl::Status s = OnNoReceipt(w); !s.ok()) return absl::StatusOr<MinedTx>(s);
  return std::nullopt;
}

std::optional<absl::StatusOr<MinedTx>> NonceAllocator::OnReceipt(WaitState& w, const jsonrpc::Receipt& receipt,
                                                                 const SignedTx& tx) {
  if (!receipt.success) {
    return absl::StatusOr<MinedTx>(absl::AbortedError(absl::StrCat(
        "transaction ", tx.hash.Hex(), " (nonce ", w.nonce, ") reverted on chain in block ", receipt.block_number,
        ", gas used ", receipt.gas_used, " of ", tx.gas_limit, ": ", RevertReason(receipt, tx, w.call))));
  }
  w.seen_receipt = true;
  bool confirmed = w.wait.confirmations <= 1;
  if (!confirmed) {
    absl::StatusOr<uint64_t> head = rpc_.BlockNumber(w.call);
    if (!head.ok()) {
      w.last_error = head.status();
    } else {
      confirmed = *head + 1 >= receipt.block_number + w.wait.confirmations;
    }
  }
  if (!confirmed) return std::nullopt;
  if (store_ != nullptr) CloseMinedSlots(w.call);
  w.out.receipt = receipt;
  w.out.tx = tx;
  w.out.versions = static_cast<int>(w.versions.size());
  return absl::StatusOr<MinedTx>(std::move(w.out));
}

// Tells the shared store what the chain says as soon as a receipt is seen, so that a mined nonce
// does not look open (to other replicas, to a resumed operation, to an operator) until the next
// maintenance pass, which may never come when this was the sender's last transaction. Best
// effort: the next Maintain repeats it.
void NonceAllocator::CloseMinedSlots(const CallOptions& opts) {
  absl::StatusOr<uint64_t> latest = rpc_.GetTransactionCount(sender_, jsonrpc::BlockId::Latest(), opts);
  if (latest.ok()) (void)store_->Chain(chain_id_, sender_, *latest);
}

std::string NonceAllocator::RevertReason(const jsonrpc::Receipt& receipt, const SignedTx& tx, const CallOptions& call) {
  // Replay the call on the parent block for a reason (best effort).
  jsonrpc::CallRequest c{.from = sender_, .to = tx.to, .data = tx.data, .gas = tx.gas_limit};
  absl::StatusOr<Bytes> replay =
      rpc_.EthCall(c, jsonrpc::BlockId::Number(receipt.block_number == 0 ? 0 : receipt.block_number - 1), call);
  if (!replay.ok()) {
    if (std::optional<jsonrpc::RpcError> e = jsonrpc::GetRpcError(replay.status());
        e.has_value() && e->kind == RpcErrorKind::kExecutionReverted) {
      return jsonrpc::DescribeRevert(*e);
    }
  }
  return "no revert reason";
}

absl::Status NonceAllocator::OnNoReceipt(WaitState& w) {
  if (w.seen_receipt) {
    ++w.out.receipt_vanished;  // reorg or revert: the block with our receipt is gone
    w.seen_receipt = false;
  } else if (w.out.receipt_vanished == 0 && absl::Now() - w.accepted_send < w.wait.poll_interval) {
    return absl::OkStatus();  // just accepted: not mined yet, not dropped yet
  }
  absl::StatusOr<bool> known = AnyKnown(w.versions, w.call);
  if (!known.ok()) {
    w.last_error = known.status();
    return absl::OkStatus();
  }
  // With a store, the version the node holds or mined may be a fee bump another process signed
  // (it replaced ours in the pool): the next poll asks about it too, instead of taking the nonce
  // for used by a stranger or re-sending an older version.
  absl::StatusOr<bool> more = (*known || store_ == nullptr) ? false : MergeStoredVersions(w);
  if (!more.ok()) {
    w.last_error = more.status();
    return absl::OkStatus();
  }
  if (*known || *more) {
    w.conflict_polls = 0;
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> latest = rpc_.GetTransactionCount(sender_, jsonrpc::BlockId::Latest(), w.call);
  if (!latest.ok()) {
    w.last_error = latest.status();
    return absl::OkStatus();
  }
  if (*latest > w.nonce) {
    // The nonce is used, yet none of our versions has a receipt. Two polls in a row, so a
    // receipt that is merely late to be indexed does not count.
    if (++w.conflict_polls < 2) return absl::OkStatus();
    absl::Status conflict = absl::AbortedError(absl::StrCat(
        "nonce ", w.nonce, " of ", sender_.Checksummed(), " was used by a transaction that is none of our ",
        w.versions.size(), " signed version(s); ", w.what, " can never be mined"));
    conflict.SetPayload(kNonceConflictPayload, absl::Cord(absl::StrCat(w.nonce)));
    Notify(TxEvent::kNonceConflict);
    return conflict;
  }
  w.conflict_polls = 0;
  return Rebroadcast(w);
}

absl::StatusOr<bool> NonceAllocator::MergeStoredVersions(WaitState& w) {
  absl::StatusOr<std::vector<SignedTx>> stored = store_->Versions(chain_id_, sender_, w.nonce);
  if (!stored.ok()) return stored.status();
  absl::MutexLock l(&mu_);
  auto it = records_.find(w.nonce);
  if (it == records_.end() || !AddVersions(it->second.versions, *stored)) return false;
  w.versions = it->second.versions;
  return true;
}

absl::Status NonceAllocator::Rebroadcast(WaitState& w) {
  absl::StatusOr<Hash32> sent = Broadcast(w.versions.back(), w.call);
  ++w.out.broadcasts;
  const SendOutcome outcome = Classify(sent.status());
  if (outcome == SendOutcome::kUnderpriced) {
    (void)BumpFees(w.nonce, w.call);
  } else if (outcome == SendOutcome::kAccepted) {
    w.accepted_send = absl::Now();
    absl::MutexLock l(&mu_);
    ++stats_.rebroadcasts;
    Notify(TxEvent::kRebroadcast);
  } else {
    w.last_error = sent.status();
    if (GetRpcErrorKind(sent.status()) == RpcErrorKind::kInsufficientFunds) {
      return absl::Status(sent.status().code(),
                          absl::StrCat("re-broadcast of ", w.what, ": ", sent.status().message()));
    }
  }
  return absl::OkStatus();
}

// ---- registry ----

NonceRegistry::NonceRegistry(jsonrpc::Client& rpc, TxSigner& signer, NonceAllocatorOptions options, NonceStore* store)
    : rpc_(rpc), signer_(signer), options_(std::move(options)), store_(store) {}

NonceAllocator& NonceRegistry::For(uint64_t chain_id, const Address& sender) {
  absl::MutexLock l(&mu_);
  std::unique_ptr<NonceAllocator>& a = allocators_[{chain_id, sender}];
  if (a == nullptr) a = std::make_unique<NonceAllocator>(rpc_, signer_, chain_id, sender, options_, store_);
  return *a;
}

}  // namespace chain::onchain
