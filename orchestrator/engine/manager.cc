#include "orchestrator/engine/manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crypto/hmac.h"
#include "crypto/random.h"
#include "crypto/secure_wipe.h"
#include "google/protobuf/util/time_util.h"
#include "orchestrator/common/ids.h"
#include "orchestrator/engine/journaled_events.h"
#include "orchestrator/engine/remote_watch.h"
#include "orchestrator/engine/signing.h"
#include "orchestrator/engine/status_marks.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace orchestrator::engine {
namespace {

using google::protobuf::util::TimeUtil;

void Wipe(std::vector<cloudapi::EnvVar>& vars) {
  for (cloudapi::EnvVar& v : vars) crypto::SecureWipe(v.value.data(), v.value.size());
  vars.clear();
}

absl::StatusOr<std::pair<v1::Operation, state::FlowState>> Parse(const journal::OperationRecord& r) {
  v1::Operation op;
  state::FlowState st;
  if (!op.ParseFromString(r.operation) || !st.ParseFromString(r.internal)) {
    return absl::DataLossError(absl::StrCat("journal: operation ", r.id, " does not parse"));
  }
  return std::make_pair(std::move(op), std::move(st));
}

void AppendLengthPrefixed(std::string& out, absl::string_view s) {
  const uint64_t n = s.size();
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(n >> (8 * i)));
  out.append(s.data(), s.size());
}

}  // namespace

OperationManager::OperationManager(journal::Journal& journal, const FlowDeps& deps, FlowRegistry flows,
                                   ManagerOptions options)
    : journal_(journal), deps_(deps), flows_(std::move(flows)), options_(WithLease(std::move(options))) {
  if (journal_.shared()) {
    keeper_ = std::make_unique<LeaseKeeper>(
        journal_, options_.owner_id, options_.lease,
        LeaseKeeper::Callbacks{[this] { return FreeSlots(); },
                               [this](std::vector<journal::OperationRecord> r) { OnClaimed(std::move(r)); },
                               [this](const std::vector<std::string>& ids) { OnCancelsRequested(ids); }});
  }
}

OperationManager::~OperationManager() { Shutdown(absl::Seconds(30)); }

std::string OperationManager::EnvValuesMac(absl::string_view salt, const std::vector<cloudapi::EnvVar>& values) const {
  const crypto::Sha256Digest k = crypto::HmacSha256(options_.env_digest_key, salt);
  std::string canonical;
  for (const cloudapi::EnvVar& v : values) {
    AppendLengthPrefixed(canonical, v.key);
    AppendLengthPrefixed(canonical, v.value);
  }
  const crypto::Sha256Digest mac =
      crypto::HmacSha256(absl::string_view(reinterpret_cast<const char*>(k.data()), k.size()), canonical);
  crypto::SecureWipe(canonical.data(), canonical.size());
  return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

bool OperationManager::started() const {
  absl::MutexLock l(&mu_);
  return started_ && !stopping_;
}

int OperationManager::worker_threads() const {
  absl::MutexLock l(&mu_);
  return running_workers_;
}

size_t OperationManager::active_operations() const {
  absl::MutexLock l(&mu_);
  return active_.size();
}

absl::Status OperationManager::Start() {
  // On a shared journal: this replica's own operations (a restart with the same replica id);
  // the claim loop takes the others' later.
  if (keeper_ != nullptr) RETURN_IF_ERROR(keeper_->Register());
  absl::StatusOr<std::vector<journal::OperationRecord>> unfinished =
      keeper_ != nullptr ? journal_.ReclaimOwn() : journal_.ListUnfinished();
  if (!unfinished.ok()) return unfinished.status();
  std::vector<std::shared_ptr<OpRuntime>> runnable;
  for (journal::OperationRecord& r : *unfinished) {
    std::shared_ptr<OpRuntime> rt = Load(std::move(r));
    if (rt != nullptr && rt->Snapshot().state() != v1::OPERATION_STATE_WAITING_FOR_INPUT) runnable.push_back(rt);
  }
  {
    absl::MutexLock l(&mu_);
    if (started_) return absl::FailedPreconditionError("already started");
    started_ = true;
  }
  for (const auto& rt : runnable) Enqueue(rt);  // starts the workers they need
  journal_prober_ = std::thread([this] { JournalProbeLoop(); });
  if (keeper_ != nullptr) keeper_->Start();
  return absl::OkStatus();
}

std::shared_ptr<OpRuntime> OperationManager::Load(journal::OperationRecord r) {
  absl::StatusOr<std::pair<v1::Operation, state::FlowState>> parsed = Parse(r);
  if (!parsed.ok()) {
    platform::log::Error("skipping an unreadable operation",
                         {{"op", r.id}, {"error", std::string(parsed.status().message())}});
    return nullptr;
  }
  std::set<std::string> unfinished_steps;
  for (const v1::Step& s : parsed->first.steps()) {
    if (s.state() != v1::STEP_STATE_SUCCEEDED && s.state() != v1::STEP_STATE_SKIPPED) unfinished_steps.insert(s.name());
  }
  if (deps_.signer != nullptr) deps_.signer->PrepareResume(r.id, unfinished_steps, deps_.chains);
  const v1::OperationState state = parsed->first.state();
  auto rt = std::make_shared<OpRuntime>(std::move(r), std::move(parsed->first), std::move(parsed->second));
  std::shared_ptr<OpRuntime> replaced;
  {
    absl::MutexLock l(&mu_);
    std::shared_ptr<OpRuntime>& slot = active_[rt->id()];
    replaced = std::move(slot);
    slot = rt;
  }
  if (replaced != nullptr) {
    // A runtime of an earlier lease of ours (fenced by the new epoch): it must not go on.
    replaced->lease_lost_.store(true);
    replaced->cancel_.Cancel();
  }
  platform::log::Info("resuming operation", {{"op", rt->id()}, {"state", v1::OperationState_Name(state)}});
  return rt;
}

bool OperationManager::Shutdown(absl::Duration grace) {
  if (keeper_ != nullptr) keeper_->StopClaims();  // the heartbeat goes on while steps checkpoint
  std::vector<std::shared_ptr<OpRuntime>> all;
  {
    absl::MutexLock l(&mu_);
    if (stopping_ && workers_.empty()) return true;
    stopping_ = true;
    for (auto& [id, rt] : active_) all.push_back(rt);
  }
  for (const auto& rt : all) {
    rt->stopping_.store(true);
    rt->cancel_.Cancel();
    OpRuntime::PublishingLock l(*rt);
    rt->CloseWatchersLocked(absl::UnavailableError("the orchestrator is shutting down; watch again"));
  }
  bool all_done = false;
  std::map<uint64_t, std::thread> threads;
  std::vector<uint64_t> ended;
  {
    absl::MutexLock l(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_workers_ == 0; };
    all_done = mu_.AwaitWithTimeout(absl::Condition(&done), grace);
    threads.swap(workers_);  // no worker starts once stopping_
    ended.swap(ended_workers_);
  }
  for (auto& [n, t] : threads) {
    if (all_done || std::find(ended.begin(), ended.end(), n) != ended.end()) {
      t.join();
    } else {
      t.detach();  // still in a blocking call
    }
  }
  if (journal_prober_.joinable()) journal_prober_.join();  // within one journal call
  // A worker still busy could still write: then the lease simply expires instead.
  if (keeper_ != nullptr) keeper_->Stop(/*release=*/all_done);
  return all_done;
}

void OperationManager::Enqueue(const std::shared_ptr<OpRuntime>& rt) {
  {
    absl::MutexLock rl(&rt->mu_);
    if (rt->queued_) {
      // A worker may be finishing a run that just stopped (e.g. waiting for input that this
      // wake-up supplied): it queues the operation again when it is done (RunOne).
      rt->wake_again_ = true;
      return;
    }
    rt->queued_ = true;
  }
  std::vector<std::thread> ended;
  {
    absl::MutexLock l(&mu_);
    queue_.push_back(rt);
    StartWorkersLocked();
    ended = TakeEndedLocked();
  }
  for (std::thread& t : ended) t.join();  // already past their last use of mu_
}

void OperationManager::StartWorkersLocked() {
  if (!started_ || stopping_) return;
  const int most = std::max(1, options_.workers);
  // Every idle worker (a new one counts as idle until it takes work) takes one queued operation.
  while (running_workers_ < most && queue_.size() > static_cast<size_t>(idle_workers_)) {
    ++running_workers_;
    ++idle_workers_;
    const uint64_t n = next_worker_++;
    workers_.emplace(n, std::thread([this, n] { WorkerLoop(n); }));
  }
}

std::vector<std::thread> OperationManager::TakeEndedLocked() {
  std::vector<std::thread> out;
  for (uint64_t n : ended_workers_) {
    auto it = workers_.find(n);
    out.push_back(std::move(it->second));
    workers_.erase(it);
  }
  ended_workers_.clear();
  return out;
}

void OperationManager::WorkerLoop(uint64_t self) {
  // First mu_: the thread that started this one holds it until this thread's handle is stored.
  mu_.Lock();
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
  for (;;) {
    if (!ready()) {
      if (idle_workers_ <= options_.idle_workers) {
        mu_.Await(absl::Condition(&ready));
      } else if (!mu_.AwaitWithTimeout(absl::Condition(&ready), options_.idle_worker_timeout)) {
        if (idle_workers_ > options_.idle_workers) break;  // more idle than kept: this one ends
        continue;
      }
    }
    if (stopping_) break;
    std::shared_ptr<OpRuntime> rt = std::move(queue_.front());
    queue_.pop_front();
    --idle_workers_;
    mu_.Unlock();
    RunOne(rt);
    rt.reset();
    mu_.Lock();
    ++idle_workers_;
  }
  --idle_workers_;
  --running_workers_;
  ended_workers_.push_back(self);
  mu_.Unlock();
}

void OperationManager::RunOne(const std::shared_ptr<OpRuntime>& rt) {
  OpContext ctx(*rt, journal_, deps_, options_.run);
  bool skip = false;
  {
    absl::MutexLock l(&rt->mu_);
    skip = IsTerminal(rt->op_.state()) || rt->cancel_requested_ || rt->lease_lost_.load();
  }
  const absl::Status s = skip ? absl::OkStatus() : RunFlow(ctx, *rt);
  if (rt->lease_lost_.load()) {
    Drop(rt);
    return;
  }
  if (IsJournalUnavailable(s) && !rt->stopping_.load()) {
    Park(rt, s);
    return;
  }
  bool terminal = false;
  bool again = false;
  {
    absl::MutexLock l(&rt->mu_);
    rt->queued_ = false;
    terminal = IsTerminal(rt->op_.state());
    const v1::OperationState state = rt->op_.state();
    again = rt->wake_again_ && (state == v1::OPERATION_STATE_RUNNING || state == v1::OPERATION_STATE_PENDING);
    rt->wake_again_ = false;
  }
  if (terminal) Retire(rt);
  if (again) Enqueue(rt);
  if (!terminal && !again && keeper_ != nullptr) ReleaseIfWaiting(rt);
}

absl::Status OperationManager::RunFlow(OpContext& ctx, OpRuntime& rt) {
  auto flow = flows_.find(rt.kind());
  const absl::Duration cpu_start = ThreadCpuTime();
  absl::Status s;
  if (flow == flows_.end()) {
    s = absl::InternalError(absl::StrCat("no flow for ", v1::OperationKind_Name(rt.kind())));
  } else {
    // Staged: journaled with the first step's RUNNING (a crash before leaves it PENDING).
    if (rt.Snapshot().state() == v1::OPERATION_STATE_PENDING) {
      s = ctx.Stage([](v1::Operation& op, state::FlowState&) { op.set_state(v1::OPERATION_STATE_RUNNING); },
                    {Event{v1::OperationEvent::TYPE_STATE_CHANGED, "", "", "started"}});
    }
    if (s.ok()) s = flow->second->Run(ctx);
    if (s.ok()) {
      s = ctx.Update([](v1::Operation& op, state::FlowState&) { op.set_state(v1::OPERATION_STATE_SUCCEEDED); },
                     {Event{v1::OperationEvent::TYPE_STATE_CHANGED, "", "", "succeeded"}});
      if (s.ok()) {
        platform::log::Info("operation succeeded",
                            {{"op", rt.id()}, {"cpu_us", absl::ToInt64Microseconds(ThreadCpuTime() - cpu_start)}});
      }
    }
  }
  // A flow that stops between steps (shutdown, waiting) leaves the last step's result staged.
  if (IsWaitingForInput(s) || IsStopping(s)) {
    if (absl::Status w = ctx.WriteStaged(); IsJournalUnavailable(w)) return w;
  }
  if (s.ok() || IsWaitingForInput(s) || IsStopping(s) || IsCancelledByClient(s) || IsJournalUnavailable(s)) return s;
  if (rt.lease_lost_.load() || IsTerminal(rt.Snapshot().state())) return s;
  // When even the failure cannot be journaled, the operation pauses and runs again later.
  if (absl::Status f = ctx.Fail("", s); IsJournalUnavailable(f)) return f;
  return s;
}

void OperationManager::Park(const std::shared_ptr<OpRuntime>& rt, const absl::Status& cause) {
  {
    absl::MutexLock l(&rt->mu_);
    // What loading it from the journal would do: a step left RUNNING may have produced its
    // effect (its result was not written), so its next attempt is told may_have_run.
    for (const v1::Step& s : rt->op_.steps()) {
      if (s.state() == v1::STEP_STATE_RUNNING) rt->resumed_steps_.insert(s.name());
    }
  }
  platform::log::Warn("operation paused: the journal cannot be written; it resumes when it can",
                      {{"op", rt->id()}, {"error", std::string(cause.message())}});
  absl::MutexLock l(&mu_);
  parked_.push_back(rt);
  journal_error_ = cause;
}

void OperationManager::JournalProbeLoop() {
  absl::Duration backoff = options_.run.initial_backoff;
  for (;;) {
    std::shared_ptr<OpRuntime> probe;
    {
      absl::MutexLock l(&mu_);
      auto parked = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !parked_.empty(); };
      mu_.Await(absl::Condition(&parked));
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (stopping_ || mu_.AwaitWithTimeout(absl::Condition(&stop), backoff)) return;
      probe = parked_.front();
    }
    // A real write on the path every step takes: a no-op Update of a paused operation.
    OpContext ctx(*probe, journal_, deps_, options_.run);
    if (IsJournalUnavailable(ctx.Update(nullptr))) {
      backoff = std::min(backoff * 2, options_.run.max_backoff);
      continue;
    }
    backoff = options_.run.initial_backoff;
    std::vector<std::shared_ptr<OpRuntime>> resumed;
    {
      absl::MutexLock l(&mu_);
      resumed.swap(parked_);
      journal_error_ = absl::OkStatus();
      // Still `queued_`: straight back into the queue.
      for (const auto& rt : resumed) queue_.push_back(rt);
      StartWorkersLocked();
    }
    platform::log::Info("journal writable again; paused operations resume",
                        {{"count", static_cast<int>(resumed.size())}});
  }
}

absl::Status OperationManager::JournalHealth() const {
  absl::MutexLock l(&mu_);
  if (parked_.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("journal not writable: ", parked_.size(),
                                             " operation(s) paused; last error: ", journal_error_.message()));
}

void OperationManager::Retire(const std::shared_ptr<OpRuntime>& rt) {
  if (deps_.signer != nullptr) deps_.signer->ReleaseGates(rt->id());
  {
    absl::MutexLock rl(&rt->mu_);
    if (rt->env_values_.has_value()) Wipe(*rt->env_values_);
    rt->env_values_.reset();
  }
  absl::MutexLock l(&mu_);
  auto it = active_.find(rt->id());
  if (it != active_.end() && it->second == rt) active_.erase(it);  // not a newer runtime of it
}

std::shared_ptr<OpRuntime> OperationManager::Find(absl::string_view id) const {
  absl::MutexLock l(&mu_);
  auto it = active_.find(id);
  return it == active_.end() ? nullptr : it->second;
}

absl::StatusOr<v1::Operation> OperationManager::SameRequest(const journal::OperationRecord& existing, Submission& sub) {
  absl::StatusOr<std::pair<v1::Operation, state::FlowState>> parsed = Parse(existing);
  if (!parsed.ok()) return parsed.status();
  const state::FlowState& st = parsed->second;
  const bool same = existing.kind == sub.kind && existing.request_digest == sub.request_digest &&
                    EnvValuesMac(st.env_salt(), sub.env_values) == st.env_mac();
  if (!same) {
    Wipe(sub.env_values);
    return absl::AlreadyExistsError(absl::StrCat(
        "request_id ", sub.request_id, " was already used for a different request (operation ", existing.id, ")"));
  }
  std::shared_ptr<OpRuntime> rt = Find(existing.id);
  // Waiting for input and released (shared journal): the retry carries the values; run it here.
  if (rt == nullptr && keeper_ != nullptr && existing.state == v1::OPERATION_STATE_WAITING_FOR_INPUT &&
      st.needs_env_values()) {
    rt = ClaimWaiting(existing.id);
  }
  if (rt != nullptr) {
    bool supply = false;
    {
      absl::MutexLock l(&rt->mu_);
      supply = rt->op_.state() == v1::OPERATION_STATE_WAITING_FOR_INPUT && !rt->env_values_.has_value();
    }
    if (supply) {
      OpContext ctx(*rt, journal_, deps_, options_.run);
      if (ctx.SupplyEnvValues(sub.request_id, sub.env_values).ok()) {
        platform::log::Info("env var values supplied by a retry of the request", {{"op", rt->id()}});
        Enqueue(rt);
      }
    }
    if (keeper_ != nullptr) ReleaseIfWaiting(rt);
    Wipe(sub.env_values);
    return rt->Snapshot();
  }
  Wipe(sub.env_values);
  return parsed->first;
}

absl::StatusOr<v1::Operation> OperationManager::Submit(Submission sub) {
  {
    absl::MutexLock l(&mu_);
    if (!started_ || stopping_) {
      Wipe(sub.env_values);
      return absl::UnavailableError("the orchestrator is starting or shutting down; retry");
    }
  }
  absl::StatusOr<std::optional<journal::OperationRecord>> existing =
      journal_.FindByRequestId(sub.caller, sub.request_id);
  if (!existing.ok()) {
    Wipe(sub.env_values);
    return existing.status();
  }
  if (existing->has_value()) return SameRequest(**existing, sub);

  auto flow = flows_.find(sub.kind);
  if (flow == flows_.end()) return absl::InternalError(absl::StrCat("no flow for ", v1::OperationKind_Name(sub.kind)));
  const absl::Time now = absl::Now();
  state::FlowState st;
  st.set_request(sub.request);
  for (const std::string& k : sub.env_keys) st.add_env_keys(k);
  st.set_needs_env_values(sub.needs_env_values);
  absl::StatusOr<crypto::Bytes> salt = crypto::RandomBytes(16);
  if (!salt.ok()) return salt.status();
  st.set_env_salt(std::string(salt->begin(), salt->end()));
  st.set_env_mac(EnvValuesMac(st.env_salt(), sub.env_values));
  if (sub.signer_key.has_value()) st.set_signer_key_address(sub.signer_key->Checksummed());
  st.set_tenant(sub.tenant);
  st.set_tenant_admin(sub.tenant_admin);

  v1::Operation op;
  op.set_id(NewOperationId(now));
  op.set_request_id(sub.request_id);
  op.set_kind(sub.kind);
  op.set_state(v1::OPERATION_STATE_PENDING);
  op.set_caller(sub.caller);
  *op.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  *op.mutable_update_time() = op.create_time();
  op.set_cvm_id(sub.cvm_id);
  for (const std::string& name : flow->second->InitialSteps(st)) {
    v1::Step* s = op.add_steps();
    s->set_name(name);
    s->set_state(v1::STEP_STATE_PENDING);
  }
  journal::OperationRecord rec;
  rec.id = op.id();
  rec.caller = sub.caller;
  rec.request_id = sub.request_id;
  rec.kind = sub.kind;
  rec.create_time = absl::FromUnixMicros(absl::ToUnixMicros(now));
  rec.request_digest = sub.request_digest;
  rec.owner = options_.owner_id;
  FillRecord(op, st, rec);
  const absl::Time write_start = absl::Now();
  absl::StatusOr<journal::CreateResult> created = journal_.Create(rec);
  if (deps_.metrics != nullptr) deps_.metrics->JournalWrite("create", absl::Now() - write_start);
  if (!created.ok()) {
    Wipe(sub.env_values);
    return created.status();
  }
  if (!created->created) return SameRequest(created->record, sub);  // lost a race with a retry
  if (deps_.metrics != nullptr) deps_.metrics->OperationStarted(sub.kind);
  auto rt = std::make_shared<OpRuntime>(created->record, op, std::move(st));
  {
    absl::MutexLock rl(&rt->mu_);
    if (sub.needs_env_values) rt->env_values_ = std::move(sub.env_values);
  }
  Wipe(sub.env_values);
  {
    absl::MutexLock l(&mu_);
    active_[rt->id()] = rt;
  }
  platform::log::Info("operation accepted", {{"op", op.id()},
                                             {"kind", v1::OperationKind_Name(sub.kind)},
                                             {"caller", sub.caller},
                                             {"request_id", sub.request_id}});
  Enqueue(rt);
  return op;
}

absl::StatusOr<v1::Operation> OperationManager::Get(absl::string_view id) {
  if (std::shared_ptr<OpRuntime> rt = Find(id)) return rt->Snapshot();
  absl::StatusOr<journal::OperationRecord> r = journal_.Get(id);
  if (!r.ok()) return r.status();
  absl::StatusOr<std::pair<v1::Operation, state::FlowState>> parsed = Parse(*r);
  if (!parsed.ok()) return parsed.status();
  return parsed->first;
}

absl::StatusOr<std::string> OperationManager::Caller(absl::string_view id) {
  if (std::shared_ptr<OpRuntime> rt = Find(id)) return rt->caller();
  absl::StatusOr<journal::OperationRecord> r = journal_.Get(id);
  if (!r.ok()) return r.status();
  return r->caller;
}

absl::StatusOr<std::pair<v1::Operation, state::FlowState>> OperationManager::GetWithState(absl::string_view id) {
  if (std::shared_ptr<OpRuntime> rt = Find(id)) return std::make_pair(rt->Snapshot(), rt->State());
  absl::StatusOr<journal::OperationRecord> r = journal_.Get(id);
  if (!r.ok()) return r.status();
  return Parse(*r);
}

absl::StatusOr<ListResult> OperationManager::List(const journal::ListQuery& query) {
  absl::StatusOr<std::vector<journal::OperationRecord>> records = journal_.List(query);
  if (!records.ok()) return records.status();
  ListResult out;
  for (const journal::OperationRecord& r : *records) {
    if (std::shared_ptr<OpRuntime> rt = Find(r.id)) {
      out.operations.push_back(rt->Snapshot());  // the live view when running here
      continue;
    }
    absl::StatusOr<std::pair<v1::Operation, state::FlowState>> parsed = Parse(r);
    if (parsed.ok()) out.operations.push_back(std::move(parsed->first));
  }
  if (!records->empty() && records->size() >= query.limit) {
    out.next = journal::ListCursor{records->back().create_time, records->back().id};
  }
  return out;
}

absl::StatusOr<v1::Operation> OperationManager::Cancel(absl::string_view id) {
  std::shared_ptr<OpRuntime> rt = Find(id);
  if (rt == nullptr) {
    absl::StatusOr<v1::Operation> op = Get(id);
    if (!op.ok()) return op.status();
    if (op->state() == v1::OPERATION_STATE_CANCELLED) return op;
    if (IsTerminal(op->state())) {
      return absl::FailedPreconditionError(
          absl::StrCat("operation ", id, " already ", v1::OperationState_Name(op->state()).substr(16)));
    }
    if (keeper_ != nullptr) return CancelElsewhere(id);
    return absl::UnavailableError(absl::StrCat("operation ", id, " is not loaded in this process"));
  }
  return CancelLoaded(rt);
}

absl::StatusOr<v1::Operation> OperationManager::CancelLoaded(const std::shared_ptr<OpRuntime>& rt) {
  OpContext ctx(*rt, journal_, deps_, options_.run);
  RETURN_IF_ERROR(ctx.CancelByClient());
  bool idle = false;
  {
    absl::MutexLock l(&rt->mu_);
    idle = !rt->queued_;
  }
  if (idle) Retire(rt);
  return rt->Snapshot();
}

absl::StatusOr<v1::Operation> OperationManager::SupplyEnvVars(absl::string_view id, absl::string_view request_id,
                                                              std::vector<cloudapi::EnvVar> values) {
  std::shared_ptr<OpRuntime> rt = Find(id);
  // Released while waiting (shared journal): whichever replica takes the values runs it.
  if (rt == nullptr && keeper_ != nullptr) rt = ClaimWaiting(id);
  absl::StatusOr<v1::Operation> out = SupplyTo(rt, id, request_id, std::move(values));
  if (rt != nullptr && keeper_ != nullptr) ReleaseIfWaiting(rt);  // refused: any replica may try again
  return out;
}

absl::StatusOr<v1::Operation> OperationManager::SupplyTo(const std::shared_ptr<OpRuntime>& rt, absl::string_view id,
                                                         absl::string_view request_id,
                                                         std::vector<cloudapi::EnvVar> values) {
  if (rt == nullptr) {
    Wipe(values);
    absl::StatusOr<journal::OperationRecord> rec = journal_.Get(id);
    if (!rec.ok()) return rec.status();
    absl::StatusOr<std::pair<v1::Operation, state::FlowState>> parsed = Parse(*rec);
    if (!parsed.ok()) return parsed.status();
    if (!request_id.empty() && parsed->second.last_supply_request_id() == request_id) return parsed->first;
    return absl::FailedPreconditionError(absl::StrCat("operation ", id, " is not waiting for input (state ",
                                                      v1::OperationState_Name(parsed->first.state()).substr(16), ")"));
  }
  state::FlowState st = rt->State();
  // A retry of the same SupplyEnvVars answers as the first call did, unless the operation waits
  // for input again: then the values that call supplied died (a crash, or the replica that held
  // them) and this retry is what brings them back.
  if (!request_id.empty() && st.last_supply_request_id() == request_id &&
      rt->Snapshot().state() != v1::OPERATION_STATE_WAITING_FOR_INPUT) {
    Wipe(values);
    return rt->Snapshot();
  }
  std::vector<std::string> keys;
  for (const cloudapi::EnvVar& v : values) keys.push_back(v.key);
  // One answer whether keys or values differ, so that a guess reveals nothing but "no".
  if (keys != std::vector<std::string>(st.env_keys().begin(), st.env_keys().end()) ||
      EnvValuesMac(st.env_salt(), values) != st.env_mac()) {
    Wipe(values);
    return absl::InvalidArgumentError(
        "env_vars: must equal the original request's (keys exactly Operation.input_request.env_keys, in that "
        "order, and the same values)");
  }
  OpContext ctx(*rt, journal_, deps_, options_.run);
  absl::Status s = ctx.SupplyEnvValues(request_id, values);
  Wipe(values);
  if (!s.ok()) return s;
  platform::log::Info("env var values supplied", {{"op", rt->id()}});
  Enqueue(rt);
  return rt->Snapshot();
}

absl::Status OperationManager::Watch(absl::string_view id, std::shared_ptr<WatchSink> sink) {
  absl::StatusOr<v1::Operation> op;
  absl::Status end;
  if (std::shared_ptr<OpRuntime> rt = Find(id)) {
    OpRuntime::PublishingLock l(*rt);
    if (!IsTerminal(rt->op_.state()) && !rt->stopping_.load()) {
      // Queued, so that it comes before the events of changes that follow.
      rt->PublishToLocked(sink, SnapshotEvent(rt->op_));
      rt->watchers_.push_back(std::move(sink));
      return absl::OkStatus();
    }
    op = rt->op_;
    end = IsTerminal(op->state()) ? absl::OkStatus()
                                  : absl::UnavailableError("the orchestrator is shutting down; watch again");
  } else if (options_.remote_watch != nullptr) {
    return options_.remote_watch->Watch(journal_, id, std::move(sink));
  } else {
    op = Get(id);
    if (!op.ok()) return op.status();
    end = IsTerminal(op->state()) ? absl::OkStatus()
                                  : absl::UnavailableError("the operation is not running in this process");
  }
  // Not watching (no events follow): told directly, outside the operation's lock.
  sink->PushOwned(SnapshotEvent(*op));
  sink->Close(end);
  return absl::OkStatus();
}

void OperationManager::Unwatch(absl::string_view id, const WatchSink* sink) {
  if (options_.remote_watch != nullptr) options_.remote_watch->Unfollow(id, sink);
  std::shared_ptr<OpRuntime> rt = Find(id);
  if (rt == nullptr) return;
  absl::MutexLock l(&rt->mu_);
  rt->watchers_.erase(std::remove_if(rt->watchers_.begin(), rt->watchers_.end(),
                                     [&](const std::shared_ptr<WatchSink>& w) { return w.get() == sink; }),
                      rt->watchers_.end());
}

}  // namespace orchestrator::engine
