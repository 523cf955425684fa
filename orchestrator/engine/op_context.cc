#include "orchestrator/engine/op_context.h"

#include <time.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cloudapi/env_encryption.h"
#include "crypto/secure_wipe.h"
#include "google/protobuf/util/time_util.h"
#include "orchestrator/common/crash_points.h"
#include "orchestrator/engine/journaled_events.h"
#include "orchestrator/engine/status_marks.h"
#include "platform/log/log.h"
#include "platform/status_macros.h"

namespace orchestrator::engine {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp Now() { return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now())); }

void Wipe(std::vector<cloudapi::EnvVar>& vars) {
  for (cloudapi::EnvVar& v : vars) crypto::SecureWipe(v.value.data(), v.value.size());
  vars.clear();
}

std::string Seconds(absl::Duration d) { return absl::StrCat(absl::ToDoubleSeconds(d), "s"); }

bool InEffectSent(const state::FlowState& st, absl::string_view step) {
  return std::find(st.effect_sent().begin(), st.effect_sent().end(), step) != st.effect_sent().end();
}

// The part of this thread's CPU spent in journal writes (serializing the record included).
thread_local absl::Duration journal_cpu;

}  // namespace

// A step runs on one worker thread, its journal writes and its HTTP and JSON-RPC calls included,
// so the difference over a step is the CPU that step cost (logged with "step succeeded";
// bench/orchestrator sums it per step).
absl::Duration ThreadCpuTime() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return absl::DurationFromTimespec(ts);
}

bool IsTerminal(v1::OperationState s) {
  return s == v1::OPERATION_STATE_SUCCEEDED || s == v1::OPERATION_STATE_FAILED || s == v1::OPERATION_STATE_CANCELLED;
}

v1::Step* FindStep(v1::Operation& op, absl::string_view name) {
  for (v1::Step& s : *op.mutable_steps()) {
    if (s.name() == name) return &s;
  }
  return nullptr;
}

const v1::Step* FindStep(const v1::Operation& op, absl::string_view name) {
  for (const v1::Step& s : op.steps()) {
    if (s.name() == name) return &s;
  }
  return nullptr;
}

void FillRecord(const v1::Operation& op, const state::FlowState& st, journal::OperationRecord& record) {
  record.state = op.state();
  record.cvm_id = op.cvm_id();
  record.update_time = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(op.update_time()));
  op.SerializeToString(&record.operation);
  st.SerializeToString(&record.internal);
  record.irreversible = st.irreversible();
}

OpRuntime::OpRuntime(journal::OperationRecord record, v1::Operation op, state::FlowState st)
    : id_(record.id), kind_(static_cast<v1::OperationKind>(record.kind)) {
  for (const v1::Step& s : op.steps()) {
    if (s.state() == v1::STEP_STATE_RUNNING) resumed_steps_.insert(s.name());
  }
  record_ = std::move(record);
  op_ = std::move(op);
  st_ = std::move(st);
}

v1::Operation OpRuntime::Snapshot() const {
  absl::MutexLock l(&mu_);
  return op_;
}

std::string OpRuntime::caller() const {
  absl::MutexLock l(&mu_);
  return record_.caller;
}

state::FlowState OpRuntime::State() const {
  absl::MutexLock l(&mu_);
  return st_;
}

void OpRuntime::PublishLocked(const state::JournaledEvents& events) {
  if (watchers_.empty()) return;
  for (v1::OperationEvent& ev : WatchEvents(events, op_)) {
    outbox_.push_back(Delivery{watchers_, std::move(ev), absl::OkStatus()});
  }
  if (IsTerminal(op_.state())) CloseWatchersLocked(absl::OkStatus());
}

void OpRuntime::PublishToLocked(std::shared_ptr<WatchSink> sink, v1::OperationEvent event) {
  outbox_.push_back(Delivery{{std::move(sink)}, std::move(event), absl::OkStatus()});
}

void OpRuntime::CloseWatchersLocked(const absl::Status& status) {
  if (watchers_.empty()) return;
  outbox_.push_back(Delivery{std::move(watchers_), std::nullopt, status});
  watchers_.clear();
}

void OpRuntime::Deliver() {
  {
    absl::MutexLock l(&mu_);
    if (delivering_) return;
    delivering_ = true;
  }
  for (;;) {
    Delivery d;
    {
      absl::MutexLock l(&mu_);
      if (outbox_.empty()) {
        delivering_ = false;
        return;
      }
      d = std::move(outbox_.front());
      outbox_.pop_front();
    }
    for (size_t i = 0; i < d.to.size(); ++i) {
      if (!d.event.has_value()) {
        d.to[i]->Close(d.close);
      } else if (i + 1 < d.to.size()) {
        d.to[i]->Push(*d.event);
      } else {
        d.to[i]->PushOwned(*std::move(d.event));  // the last one: no copy
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

absl::Status StepRun::Progress(absl::string_view detail, absl::string_view transaction_hash, uint64_t block_number) {
  const std::string step = name_;
  return ctx_->Update(
      [&](v1::Operation& op, state::FlowState&) {
        if (v1::Step* s = FindStep(op, step)) {
          s->set_detail(std::string(detail));
          if (!transaction_hash.empty()) s->set_transaction_hash(std::string(transaction_hash));
          if (block_number != 0) s->set_block_number(block_number);
        }
      },
      {Event{v1::OperationEvent::TYPE_STEP_PROGRESS, step, std::string(transaction_hash), std::string(detail)}});
}

absl::Status StepRun::SendingEffect() {
  if (before_ != BeforeEffect::kEffectSent) {
    return absl::InternalError(absl::StrCat("step ", name_, " sends an effect it does not declare (kEffectSent)"));
  }
  RETURN_IF_ERROR(ctx_->MarkIrreversible());
  if (ctx_->EffectSent(name_)) return absl::OkStatus();  // by the step's RUNNING write
  const std::string step = name_;
  return ctx_->Update([&](v1::Operation&, state::FlowState& st) { st.add_effect_sent(step); });
}

absl::Status StepRun::Succeed(const std::function<void(v1::Operation&, state::FlowState&)>& fn,
                              absl::string_view detail) {
  CrashPoint(name_, "after");
  const std::string step = name_;
  std::string tx;
  absl::Status s = ctx_->Stage(
      [&](v1::Operation& op, state::FlowState& st) {
        if (fn) fn(op, st);
        if (v1::Step* s = FindStep(op, step)) {
          s->set_state(v1::STEP_STATE_SUCCEEDED);
          *s->mutable_finish_time() = Now();
          if (!detail.empty()) s->set_detail(std::string(detail));
          tx = s->transaction_hash();
        }
      },
      {Event{v1::OperationEvent::TYPE_STEP_SUCCEEDED, step, "", std::string(detail)}});
  if (s.ok()) succeeded_ = true;
  return s;
}

// ---------------------------------------------------------------------------------------------

OpContext::OpContext(OpRuntime& runtime, journal::Journal& journal, const FlowDeps& deps, const RunOptions& options)
    : rt_(runtime), journal_(journal), deps_(deps), options_(options) {}

absl::Status OpContext::UpdateLocked(const std::function<void(v1::Operation&, state::FlowState&)>& fn,
                                     std::vector<Event> events, bool allow_terminal,
                                     std::vector<journal::Artifact> artifacts) {
  if (!allow_terminal) RETURN_IF_ERROR(FinishedStatusLocked());
  const absl::Duration cpu_start = ThreadCpuTime();
  // Built in the runtime's scratch objects, which keep the storage of an earlier state (CopyFrom
  // and string assignment reuse it): a write allocates next to nothing once an operation runs.
  // Nothing of the runtime changes unless the write succeeds.
  OpRuntime::Scratch& next = rt_.scratch_;
  next.op.CopyFrom(rt_.FlowOpLocked());
  next.st.CopyFrom(rt_.FlowStateLocked());
  if (fn) fn(next.op, next.st);
  *next.op.mutable_update_time() = Now();
  next.record = rt_.record_;
  FillRecord(next.op, next.st, next.record);
  if (rt_.has_staged_) events.insert(events.begin(), rt_.staged_.events.begin(), rt_.staged_.events.end());
  // Journaled with the change so that other replicas' watchers get exactly these (remote_watch.h).
  const state::JournaledEvents journaled = JournalEvents(events, next.op.update_time());
  journal::UpdateOptions options;
  // Only a shared journal keeps them (journal.h UpdateOptions.events).
  if (journaled.events_size() > 0 && journal_.shared()) journaled.SerializeToString(&options.events);
  options.artifacts = std::move(artifacts);
  if (rt_.has_staged_) options.owners = rt_.staged_.owners;  // kept staged until the write succeeds
  const absl::Time write_start = absl::Now();
  absl::StatusOr<int64_t> version = journal_.Update(next.record, options);
  // The journal may be briefly busy (another process reading it, an I/O hiccup): retry a little.
  for (int i = 0; !version.ok() && absl::IsUnavailable(version.status()) && i < 20; ++i) {
    if (deps_.metrics != nullptr)
      deps_.metrics->Retry(metrics::RetryLayer::kJournal, metrics::RetryCause::kJournalBusy);
    absl::SleepFor(absl::Milliseconds(50));
    version = journal_.Update(next.record, options);
  }
  if (deps_.metrics != nullptr) deps_.metrics->JournalWrite("update", absl::Now() - write_start);
  journal_cpu += ThreadCpuTime() - cpu_start;
  if (!version.ok()) {
    platform::log::Error("journal write failed",
                         {{"op", rt_.id()}, {"error", std::string(version.status().message())}});
    // Nothing was written: the operation pauses until the journal works (manager.h).
    if (absl::IsUnavailable(version.status())) return JournalUnavailableStatus(version.status());
    if (journal::IsLeaseLost(version.status())) {
      // Another replica runs it now: stop here, write nothing more (the manager drops it).
      rt_.lease_lost_.store(true);
      rt_.cancel_.Cancel();
    }
    return version.status();
  }
  next.record.version = *version;
  next.record.operation.clear();
  next.record.internal.clear();
  const bool ended = IsTerminal(next.op.state());
  if (deps_.metrics != nullptr && !IsTerminal(rt_.op_.state()) && ended) {
    deps_.metrics->OperationEnded(rt_.kind(), next.op.state());
  }
  // The previous state goes to the scratch objects, whose storage the next write reuses.
  std::swap(rt_.record_, next.record);
  rt_.op_.Swap(&next.op);
  rt_.st_.Swap(&next.st);
  rt_.has_staged_ = false;
  rt_.staged_.events.clear();
  rt_.staged_.owners.clear();
  if (ended) {  // no more changes: the copies' storage is not needed any more
    rt_.scratch_ = OpRuntime::Scratch();
    rt_.staged_ = OpRuntime::Staged();
  }
  rt_.PublishLocked(journaled);
  return absl::OkStatus();
}

absl::Status OpContext::Stage(const std::function<void(v1::Operation&, state::FlowState&)>& fn,
                              std::vector<Event> events, std::vector<journal::ResourceOwner> owners) {
  absl::MutexLock l(&rt_.mu_);
  return StageLocked(fn, std::move(events), std::move(owners));
}

absl::Status OpContext::StageLocked(const std::function<void(v1::Operation&, state::FlowState&)>& fn,
                                    std::vector<Event> events, std::vector<journal::ResourceOwner> owners) {
  RETURN_IF_ERROR(FinishedStatusLocked());
  if (!rt_.has_staged_) {
    rt_.staged_.op.CopyFrom(rt_.op_);  // into the storage an earlier staged change left
    rt_.staged_.st.CopyFrom(rt_.st_);
    rt_.has_staged_ = true;
  }
  if (fn) fn(rt_.staged_.op, rt_.staged_.st);
  for (Event& e : events) rt_.staged_.events.push_back(std::move(e));
  for (journal::ResourceOwner& o : owners) rt_.staged_.owners.push_back(std::move(o));
  return absl::OkStatus();
}

absl::Status OpContext::FinishedStatusLocked() const {
  if (!IsTerminal(rt_.op_.state())) return absl::OkStatus();
  return rt_.op_.state() == v1::OPERATION_STATE_CANCELLED
             ? CancelledByClientStatus()
             : absl::FailedPreconditionError(absl::StrCat("operation ", rt_.id(), " is already finished"));
}

absl::Status OpContext::WriteStaged() {
  OpRuntime::PublishingLock l(rt_);
  if (!rt_.has_staged_) return absl::OkStatus();
  return UpdateLocked(nullptr, {}, /*allow_terminal=*/false);
}

std::string OpContext::caller() const { return rt_.caller(); }

state::FlowState OpContext::State() const {
  absl::MutexLock l(&rt_.mu_);
  return rt_.FlowStateLocked();
}

v1::Operation OpContext::Operation() const {
  absl::MutexLock l(&rt_.mu_);
  return rt_.FlowOpLocked();
}

absl::Status OpContext::Update(const std::function<void(v1::Operation&, state::FlowState&)>& fn,
                               std::vector<Event> events, std::vector<journal::Artifact> artifacts) {
  OpRuntime::PublishingLock l(rt_);
  return UpdateLocked(fn, std::move(events), /*allow_terminal=*/false, std::move(artifacts));
}

bool OpContext::StepFinished(absl::string_view name) const {
  absl::MutexLock l(&rt_.mu_);
  const v1::Step* s = FindStep(rt_.FlowOpLocked(), name);
  return s != nullptr && (s->state() == v1::STEP_STATE_SUCCEEDED || s->state() == v1::STEP_STATE_SKIPPED);
}

absl::Status OpContext::Skip(absl::string_view name, absl::string_view detail) {
  if (StepFinished(name)) return absl::OkStatus();
  const std::string step(name);
  return Update(
      [&](v1::Operation& op, state::FlowState&) {
        v1::Step* s = FindStep(op, step);
        if (s == nullptr) {
          s = op.add_steps();
          s->set_name(step);
        }
        s->set_state(v1::STEP_STATE_SKIPPED);
        *s->mutable_finish_time() = Now();
        s->set_detail(std::string(detail));
      },
      {Event{v1::OperationEvent::TYPE_STEP_SKIPPED, step, "", std::string(detail)}});
}

absl::Status OpContext::Fail(absl::string_view step, const absl::Status& status) {
  OpRuntime::PublishingLock l(rt_);
  const std::string name(step);
  std::vector<Event> events;
  if (!name.empty())
    events.push_back(Event{v1::OperationEvent::TYPE_STEP_FAILED, name, "", std::string(status.message())});
  events.push_back(Event{v1::OperationEvent::TYPE_STATE_CHANGED, "", "", std::string(status.message())});
  platform::log::Warn("operation failed", {{"op", rt_.id()}, {"step", name}, {"error", std::string(status.message())}});
  return UpdateLocked(
      [&](v1::Operation& op, state::FlowState&) {
        if (v1::Step* s = FindStep(op, name)) {
          s->set_state(v1::STEP_STATE_FAILED);
          *s->mutable_finish_time() = Now();
          s->set_detail(std::string(status.message()));
        }
        op.set_state(v1::OPERATION_STATE_FAILED);
        op.mutable_error()->set_code(static_cast<int32_t>(status.code()));
        op.mutable_error()->set_message(std::string(status.message()));
        op.mutable_error()->set_step(name);
      },
      std::move(events), /*allow_terminal=*/false);
}

absl::Status OpContext::RunStep(absl::string_view name_view, BeforeEffect before,
                                const std::function<absl::Status(StepRun&)>& body) {
  const std::string name(name_view);
  if (StepFinished(name)) return absl::OkStatus();
  bool resumed = rt_.resumed_steps_.count(name) > 0;
  const absl::Time started = absl::Now();
  const absl::Duration cpu_start = ThreadCpuTime();
  const absl::Duration journal_cpu_start = journal_cpu;
  auto timed = [&](bool succeeded) {
    if (deps_.metrics != nullptr) deps_.metrics->StepEnded(kind(), name, succeeded, absl::Now() - started);
  };
  std::optional<absl::Time> first_failure;
  absl::Duration backoff = options_.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    if (stopping()) return StoppingStatus(name);
    // Self-fencing: a replica whose lease may be running out starts nothing; it pauses.
    if (options_.lease_current) {
      if (absl::Status lease = options_.lease_current(); !lease.ok()) return JournalUnavailableStatus(lease);
    }
    const bool effect_sent_before = EffectSent(name);
    // No body runs without this write ("the intent"); when it fails the operation pauses.
    RETURN_IF_ERROR(MarkStepRunning(name, resumed, before));
    platform::log::Info("step started", {{"op", id()}, {"step", name}, {"attempt", attempt}});
    CrashPoint(name, "before");
    StepRun run(this, name, before, attempt, resumed, effect_sent_before);
    absl::Status s = body(run);
    if (s.ok()) {
      if (!run.succeeded()) s = run.Succeed(nullptr);
      if (s.ok()) {
        platform::log::Info("step succeeded",
                            {{"op", id()},
                             {"step", name},
                             {"cpu_us", absl::ToInt64Microseconds(ThreadCpuTime() - cpu_start)},
                             {"journal_cpu_us", absl::ToInt64Microseconds(journal_cpu - journal_cpu_start)}});
        timed(true);
        return s;
      }
    }
    // A journal write of the step failed (its result, or a progress the body passed on): not a
    // failure of the step. The operation pauses; the step stays RUNNING and resumes as may_have_run.
    if (IsWaitingForInput(s) || IsCancelledByClient(s) || IsJournalUnavailable(s)) return s;
    if (journal::IsLeaseLost(s) || rt_.lease_lost_.load()) return s;  // another replica runs it now
    if (stopping()) {
      // Checkpoint: the step stays RUNNING and resumes after the restart.
      (void)Update([&](v1::Operation& op, state::FlowState&) {
        if (v1::Step* st = FindStep(op, name)) st->set_detail("interrupted by shutdown; resumes on restart");
      });
      return StoppingStatus(name);
    }
    {
      absl::MutexLock l(&rt_.mu_);
      if (rt_.cancel_requested_) return CancelledByClientStatus();
    }
    if (IsTransient(s)) {
      const absl::Time now = absl::Now();
      if (!first_failure.has_value()) first_failure = now;
      if (now - *first_failure < options_.retry_timeout) {
        const std::string detail = absl::StrCat("retrying in ", Seconds(backoff), " after: ", s.message());
        platform::log::Warn("step retrying", {{"op", id()}, {"step", name}, {"error", std::string(s.message())}});
        if (deps_.metrics != nullptr) deps_.metrics->Retry(metrics::RetryLayer::kStep, metrics::StepRetryCause(s));
        (void)Update(
            [&](v1::Operation& op, state::FlowState&) {
              if (v1::Step* st = FindStep(op, name)) st->set_detail(detail);
            },
            {Event{v1::OperationEvent::TYPE_STEP_RETRYING, name, "", detail}});
        Sleep(backoff);
        backoff = std::min(backoff * 2, options_.max_backoff);
        resumed = true;
        continue;
      }
      s = absl::Status(s.code(), absl::StrCat("gave up after ", Seconds(now - *first_failure),
                                              " of transient errors; last: ", s.message()));
    }
    // When even the failure cannot be journaled, the operation pauses and the step is redone.
    if (absl::Status f = Fail(name, s); IsJournalUnavailable(f)) return f;
    timed(false);
    return s;
  }
}

bool OpContext::EffectSent(absl::string_view step) const {
  absl::MutexLock l(&rt_.mu_);
  return InEffectSent(rt_.FlowStateLocked(), step);
}

absl::Status OpContext::MarkStepRunning(const std::string& name, bool resumed, BeforeEffect before) {
  const bool effect_sent = before == BeforeEffect::kEffectSent;
  auto mark = [&](v1::Operation& op, state::FlowState& fs) {
    if (effect_sent && !InEffectSent(fs, name)) fs.add_effect_sent(name);
    // A step resumed while it waits for the app's owner goes on waiting (flows/owner_action.h).
    if (op.state() != v1::OPERATION_STATE_WAITING_FOR_OWNER) op.set_state(v1::OPERATION_STATE_RUNNING);
    op.clear_input_request();
    v1::Step* st = FindStep(op, name);
    if (st == nullptr) {
      st = op.add_steps();
      st->set_name(name);
    }
    st->set_state(v1::STEP_STATE_RUNNING);
    st->set_attempts(st->attempts() + 1);
    *st->mutable_start_time() = Now();
    st->clear_finish_time();
  };
  std::vector<Event> events = {Event{v1::OperationEvent::TYPE_STEP_STARTED, name, "", resumed ? "resumed" : ""}};
  OpRuntime::PublishingLock l(rt_);
  // An effect-free step need not be journaled before it runs: repeated after a crash it does
  // what it did. Its intent rides with the operation's next write (see the file comment) once
  // the operation is journaled RUNNING, so that GetOperation never shows a running one PENDING
  // or waiting.
  if (before == BeforeEffect::kNothing && rt_.op_.state() == v1::OPERATION_STATE_RUNNING) {
    return StageLocked(mark, std::move(events), {});
  }
  return UpdateLocked(mark, std::move(events), /*allow_terminal=*/false);
}

absl::StatusOr<bool> OpContext::MarkIrreversibleWith(std::vector<journal::Artifact> with) {
  OpRuntime::PublishingLock l(rt_);
  if (rt_.cancel_requested_ || rt_.op_.state() == v1::OPERATION_STATE_CANCELLED) return CancelledByClientStatus();
  if (rt_.st_.irreversible()) return false;
  absl::Status s = UpdateLocked([](v1::Operation&, state::FlowState& st) { st.set_irreversible(true); }, {},
                                /*allow_terminal=*/false, std::move(with));
  // Another replica took a CancelOperation first (journal.h RequestCancel): it wins.
  if (journal::IsCancelRequested(s)) {
    RETURN_IF_ERROR(CancelLocked());
    return CancelledByClientStatus();
  }
  if (!s.ok()) return s;
  return true;
}

absl::Status OpContext::WaitForInput(absl::string_view step, absl::string_view reason) {
  const std::string name(step);
  absl::Status s = Update(
      [&](v1::Operation& op, state::FlowState& st) {
        op.set_state(v1::OPERATION_STATE_WAITING_FOR_INPUT);
        op.mutable_input_request()->set_reason(std::string(reason));
        op.mutable_input_request()->clear_env_keys();
        for (const std::string& k : st.env_keys()) op.mutable_input_request()->add_env_keys(k);
        if (v1::Step* s = FindStep(op, name)) s->set_detail("waiting for SupplyEnvVars");
      },
      {Event{v1::OperationEvent::TYPE_STATE_CHANGED, "", "", std::string(reason)}});
  if (!s.ok()) return s;
  platform::log::Info("operation waits for env var values", {{"op", id()}, {"step", name}});
  return WaitingForInputStatus();
}

absl::StatusOr<std::optional<std::string>> OpContext::EncryptEnvValues(absl::string_view public_key_hex) const {
  absl::MutexLock l(&rt_.mu_);
  if (!rt_.env_values_.has_value()) return std::optional<std::string>();
  absl::StatusOr<std::string> c = cloudapi::EncryptEnvVars(*rt_.env_values_, public_key_hex);
  if (!c.ok()) return c.status();
  return std::optional<std::string>(*std::move(c));
}

void OpContext::ForgetEnvValues() {
  absl::MutexLock l(&rt_.mu_);
  if (rt_.env_values_.has_value()) Wipe(*rt_.env_values_);
  rt_.env_values_.reset();
}

absl::Status OpContext::CancelByClient() {
  OpRuntime::PublishingLock l(rt_);
  return CancelLocked();
}

absl::Status OpContext::CancelLocked() {
  const v1::OperationState state = rt_.op_.state();
  if (state == v1::OPERATION_STATE_CANCELLED) return absl::OkStatus();
  if (IsTerminal(state)) {
    return absl::FailedPreconditionError(
        absl::StrCat("operation ", rt_.id(), " already ", v1::OperationState_Name(state).substr(16)));
  }
  // Waiting for the owner: nothing of ours is on chain for the waiting step and the Phala Cloud
  // calls before it were refused (465) or only prepared, so the operation may still be dropped.
  if (rt_.st_.irreversible() && state != v1::OPERATION_STATE_WAITING_FOR_OWNER) {
    return absl::FailedPreconditionError(
        absl::StrCat("operation ", rt_.id(),
                     " cannot be cancelled: an on-chain transaction or a Phala Cloud commit was already sent"));
  }
  absl::Status s = UpdateLocked(
      [](v1::Operation& op, state::FlowState&) {
        op.set_state(v1::OPERATION_STATE_CANCELLED);
        op.clear_input_request();
        op.clear_owner_action();
        for (v1::Step& st : *op.mutable_steps()) {
          if (st.state() == v1::STEP_STATE_RUNNING) {
            st.set_state(v1::STEP_STATE_SKIPPED);
            st.set_detail("cancelled");
            *st.mutable_finish_time() = Now();
          }
        }
      },
      {Event{v1::OperationEvent::TYPE_STATE_CHANGED, "", "", "cancelled by the client"}}, /*allow_terminal=*/false);
  if (!s.ok()) return s;
  rt_.cancel_requested_ = true;
  if (rt_.env_values_.has_value()) Wipe(*rt_.env_values_);
  rt_.env_values_.reset();
  rt_.cancel_.Cancel();
  platform::log::Info("operation cancelled", {{"op", rt_.id()}});
  return absl::OkStatus();
}

absl::Status OpContext::SupplyEnvValues(absl::string_view request_id, std::vector<cloudapi::EnvVar>& values) {
  OpRuntime::PublishingLock l(rt_);
  if (rt_.op_.state() != v1::OPERATION_STATE_WAITING_FOR_INPUT) {
    return absl::FailedPreconditionError(absl::StrCat("operation ", rt_.id(), " is not waiting for input (state ",
                                                      v1::OperationState_Name(rt_.op_.state()).substr(16), ")"));
  }
  const std::string rid(request_id);
  absl::Status s = UpdateLocked(
      [&](v1::Operation& op, state::FlowState& st) {
        op.set_state(v1::OPERATION_STATE_RUNNING);
        op.clear_input_request();
        st.set_last_supply_request_id(rid);
      },
      {Event{v1::OperationEvent::TYPE_STATE_CHANGED, "", "", "env var values supplied"}}, /*allow_terminal=*/false);
  if (!s.ok()) return s;
  if (rt_.env_values_.has_value()) Wipe(*rt_.env_values_);
  rt_.env_values_ = std::move(values);
  values.clear();
  return absl::OkStatus();
}

chain::jsonrpc::CallOptions OpContext::Call(absl::Duration timeout) const {
  chain::jsonrpc::CallOptions o;
  o.deadline = absl::Now() + timeout;
  o.cancel = &rt_.cancel_;
  return o;
}

}  // namespace orchestrator::engine
