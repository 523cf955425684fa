// The in-memory runtime of one operation and the API its flow runs against.
//
// Every change of an operation goes through OpContext::Update: the new public view and private
// state are journaled first (durable on return, with the change's events for the watchers on
// other replicas: journaled_events.h), then the in-memory copy is replaced, then the events are
// queued for the watchers, in that order, under the operation's lock. So a watcher
// never sees a change that a crash could take back. The queued events are delivered, in order,
// once the lock is released (OpRuntime::PublishingLock): a sink is never called under the
// engine's locks, so it may take its own or call the manager without a lock-order cycle.
//
// Steps (RunStep): the step is marked RUNNING (attempts + 1) and journaled before its body runs
// ("the intent"); the body does the side effect and stages its result together with SUCCEEDED
// (StepRun::Succeed, OpContext::Stage): the staged change is journaled by the operation's next
// write, which is the next step's RUNNING, a Skip, the terminal state or the flow's end
// (OpContext::WriteStaged), so one write per step instead of two. Until then the flow sees the
// staged view (OpContext::State, Operation, StepFinished) and everyone else the journaled one
// (OpRuntime::Snapshot, the watchers): a crash before that write leaves the step RUNNING, which
// resumes as may_have_run, as a crash right before its result write always did. A step without
// an effect (BeforeEffect::kNothing) stages its intent too once the operation is journaled
// RUNNING: its start and its result are journaled by the next write (its progress or retry, or
// the next effect's intent), so such a step costs no write of its own; a crash loses only the
// record of its attempt, and the step runs again as a first attempt. A transient
// failure (status_marks.h IsTransient) is retried with exponential backoff until `retry_timeout`
// has passed since the first failure, then the step and the operation fail with a final message
// naming the last error.
//
// A journal write that fails with UNAVAILABLE (journal.h) returns IsJournalUnavailable: RunStep
// then stops at once (a body whose RUNNING is written does not run without that write; a body
// whose result was not written is not retried here) and the manager pauses the operation
// (manager.h).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_ENGINE_OP_CONTEXT_H_
#define ONCHAIN_KMS_ORCHESTRATOR_ENGINE_OP_CONTEXT_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chain/jsonrpc/cancel.h"
#include "cloudapi/env_vars.h"
#include "orchestrator/engine/flow.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/state/flow_state.pb.h"

namespace orchestrator::engine {

// Receives the events of one operation (a WatchOperation stream), in order, one call at a time.
// Push must not block. It is called without the engine's locks held, so it may call the manager;
// but whoever calls the manager must not hold a lock its sink takes: a call that changes an
// operation (or Watch) may deliver queued events on the calling thread. After Unwatch a sink may
// still receive the events queued before.
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  virtual void Push(const v1::OperationEvent& event) = 0;
  // Push of an event the sink may keep: the last sink of a fan-out gets it moved, not copied.
  virtual void PushOwned(v1::OperationEvent event) { Push(event); }
  // No more events will come: `status` OK after a terminal event, UNAVAILABLE on shutdown.
  virtual void Close(const absl::Status& status) = 0;
};

// One event to publish (OperationEvent without the operation, the time and the sequence).
struct Event {
  v1::OperationEvent::Type type = v1::OperationEvent::TYPE_UNSPECIFIED;
  std::string step;
  std::string transaction_hash;
  std::string detail;
};

struct RunOptions {
  absl::Duration retry_timeout = absl::Minutes(10);
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(15);
  // Several replicas: OK while this replica's lease is current. A step does not start otherwise
  // (the operation pauses as on a journal outage). Empty: always.
  std::function<absl::Status()> lease_current;
};

// The live state of one non-terminal operation. Owned by the manager (shared with workers).
class OpRuntime {
 public:
  OpRuntime(journal::OperationRecord record, v1::Operation op, state::FlowState st);

  const std::string& id() const { return id_; }
  v1::OperationKind kind() const { return kind_; }

  v1::Operation Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);
  std::string caller() const ABSL_LOCKS_EXCLUDED(mu_);
  state::FlowState State() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class OpContext;
  friend class OperationManager;

  // The lock for a change: releasing it delivers what the change queued for the watchers.
  class ABSL_SCOPED_LOCKABLE PublishingLock {
   public:
    explicit PublishingLock(OpRuntime& rt) ABSL_EXCLUSIVE_LOCK_FUNCTION(rt.mu_) : rt_(rt) { rt_.mu_.Lock(); }
    ~PublishingLock() ABSL_UNLOCK_FUNCTION() {
      rt_.mu_.Unlock();
      rt_.Deliver();
    }
    PublishingLock(const PublishingLock&) = delete;
    PublishingLock& operator=(const PublishingLock&) = delete;

   private:
    OpRuntime& rt_;
  };

  // One call to sinks, queued under mu_ and made after it is released.
  struct Delivery {
    std::vector<std::shared_ptr<WatchSink>> to;
    std::optional<v1::OperationEvent> event;  // Push it; nullopt: Close(close)
    absl::Status close;
  };
  // Queues `events` (journaled_events.h WatchEvents with op_) for every watcher, then their Close
  // when op_ is terminal.
  void PublishLocked(const state::JournaledEvents& events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues `event` for `sink` alone (a new watcher's snapshot).
  void PublishToLocked(std::shared_ptr<WatchSink> sink, v1::OperationEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues Close(status) for every watcher and forgets them.
  void CloseWatchersLocked(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes the queued calls in order, without mu_ held. One thread at a time does: a thread that
  // finds another delivering returns at once (its calls are made by that one).
  void Deliver() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string id_;
  const v1::OperationKind kind_;
  mutable absl::Mutex mu_;
  journal::OperationRecord record_ ABSL_GUARDED_BY(mu_);  // columns + version; blobs are stale
  v1::Operation op_ ABSL_GUARDED_BY(mu_);
  state::FlowState st_ ABSL_GUARDED_BY(mu_);
  // Secret: plaintext env var values, until encrypted. Never journaled or logged.
  std::optional<std::vector<cloudapi::EnvVar>> env_values_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<WatchSink>> watchers_ ABSL_GUARDED_BY(mu_);
  std::deque<Delivery> outbox_ ABSL_GUARDED_BY(mu_);
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;
  bool queued_ ABSL_GUARDED_BY(mu_) = false;      // in the run queue or running
  bool wake_again_ ABSL_GUARDED_BY(mu_) = false;  // woken while queued: run again if runnable
  bool cancel_requested_ ABSL_GUARDED_BY(mu_) = false;
  // Steps that were RUNNING when this process loaded the operation (they may have partly run).
  std::set<std::string> resumed_steps_;
  // Changed by OpContext::Stage, not journaled yet: the next write journals them (and publishes
  // the events).
  // The objects are kept between changes (has_staged_ says whether they hold one) so that
  // CopyFrom reuses their storage instead of allocating a whole state per step.
  struct Staged {
    v1::Operation op;
    state::FlowState st;
    std::vector<Event> events;
    std::vector<journal::ResourceOwner> owners;  // journal::UpdateOptions.owners of the next write
  };
  Staged staged_ ABSL_GUARDED_BY(mu_);
  bool has_staged_ ABSL_GUARDED_BY(mu_) = false;
  // Where OpContext::UpdateLocked builds the next journaled state; after a write it holds the
  // previous one's storage for the next (swapped, not freed). Emptied once the operation ends.
  struct Scratch {
    journal::OperationRecord record;
    v1::Operation op;
    state::FlowState st;
  };
  Scratch scratch_ ABSL_GUARDED_BY(mu_);
  // The flow's view: the staged change if there is one, else the journaled state.
  const v1::Operation& FlowOpLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return has_staged_ ? staged_.op : op_;
  }
  const state::FlowState& FlowStateLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return has_staged_ ? staged_.st : st_;
  }
  chain::jsonrpc::CancelToken cancel_;  // CancelOperation or shutdown
  std::atomic<bool> stopping_{false};   // shutdown (as opposed to a client's cancel)
  // A fenced write was refused (journal.h LeaseLost) or the operation was released: another
  // replica runs it now; this runtime writes nothing more and is dropped.
  std::atomic<bool> lease_lost_{false};
};

class OpContext;

// Passed to a step's body.
class StepRun {
 public:
  const std::string& name() const { return name_; }
  int attempt() const { return attempt_; }
  // True when the step may already have produced its effect before this attempt: it was
  // RUNNING when the process restarted, or an earlier attempt failed.
  bool may_have_run() const { return resumed_ || attempt_ > 1; }
  // What the step declared it journals before its effect.
  BeforeEffect before() const { return before_; }
  // may_have_run(), or an earlier run of the step may have sent its effect: the step was in
  // FlowState.effect_sent before this attempt's RUNNING write (which puts a kEffectSent step
  // there: one journal write less than a separate mark right before the call).
  bool effect_may_have_happened() const { return may_have_run() || effect_sent_before_; }
  // For a kEffectSent step, right before its call: journals `irreversible` (CancelOperation is
  // refused from then on) once, and the step in effect_sent if its RUNNING write did not (an
  // operation journaled before that write did). INTERNAL for other steps.
  absl::Status SendingEffect();
  // Journals progress and publishes STEP_PROGRESS.
  absl::Status Progress(absl::string_view detail, absl::string_view transaction_hash = "", uint64_t block_number = 0);
  // Stages the step's results (applied by `fn`) and SUCCEEDED (OpContext::Stage): journaled
  // together by the operation's next write, before anything else runs. Fires the
  // "<step>:after" crash point first.
  absl::Status Succeed(const std::function<void(v1::Operation&, state::FlowState&)>& fn, absl::string_view detail = "");
  bool succeeded() const { return succeeded_; }

 private:
  friend class OpContext;
  StepRun(OpContext* ctx, std::string name, BeforeEffect before, int attempt, bool resumed, bool effect_sent_before)
      : ctx_(ctx),
        name_(std::move(name)),
        before_(before),
        attempt_(attempt),
        resumed_(resumed),
        effect_sent_before_(effect_sent_before) {}
  OpContext* ctx_;
  std::string name_;
  BeforeEffect before_;
  int attempt_;
  bool resumed_;
  bool effect_sent_before_;
  bool succeeded_ = false;
};

class OpContext {
 public:
  OpContext(OpRuntime& runtime, journal::Journal& journal, const FlowDeps& deps, const RunOptions& options);

  const std::string& id() const { return rt_.id(); }
  v1::OperationKind kind() const { return rt_.kind(); }
  // The identity that submitted the operation (journal record's `caller`).
  std::string caller() const;
  const FlowDeps& deps() const { return deps_; }

  // Copies of the current state, staged changes included.
  state::FlowState State() const;
  v1::Operation Operation() const;
  // `read` of the current state and view (staged changes included) under the operation's lock,
  // without copying them: for a field or two. `read` must not call into this context.
  template <typename Fn>
  auto Read(Fn&& read) const {
    absl::MutexLock l(&rt_.mu_);
    return read(rt_.FlowStateLocked(), rt_.FlowOpLocked());
  }

  // Applies `fn`, journals, publishes `events`. CancelledByClientStatus when the operation was
  // cancelled meanwhile (nothing written). `artifacts` (this operation's) are written with the
  // record, in the same transaction (journal::UpdateOptions).
  absl::Status Update(const std::function<void(v1::Operation&, state::FlowState&)>& fn, std::vector<Event> events = {},
                      std::vector<journal::Artifact> artifacts = {});
  // Applies `fn` to the staged view without a write: the next Update (of any thread) journals it
  // and publishes `events` before its own. Only for changes whose loss in a crash is harmless
  // (the step they finish stays RUNNING and resumes as may_have_run); the same errors as Update.
  // `owners` ride with that write too (journal::UpdateOptions.owners).
  absl::Status Stage(const std::function<void(v1::Operation&, state::FlowState&)>& fn, std::vector<Event> events,
                     std::vector<journal::ResourceOwner> owners = {});
  // Stages owner rows of resources the running step created: the next write records them with
  // the step's result (journal::UpdateOptions.owners: unless owned already; the step checked
  // with FindOwner). The same errors as Stage.
  absl::Status StageOwners(std::vector<journal::ResourceOwner> owners) { return Stage(nullptr, {}, std::move(owners)); }
  // Journals the staged changes, if any (the flow's end).
  absl::Status WriteStaged();

  // Runs a step unless it already SUCCEEDED or was SKIPPED (see the file comment).
  absl::Status RunStep(absl::string_view name, BeforeEffect before, const std::function<absl::Status(StepRun&)>& body);
  absl::Status RunStep(absl::string_view name, const std::function<absl::Status(StepRun&)>& body) {
    return RunStep(name, BeforeEffect::kNothing, body);
  }
  // Marks a step SKIPPED (not needed), unless finished.
  absl::Status Skip(absl::string_view name, absl::string_view detail);
  bool StepFinished(absl::string_view name) const;
  // `step` is in the flow's FlowState.effect_sent (BeforeEffect::kEffectSent).
  bool EffectSent(absl::string_view step) const;

  // Before the first effect that cannot be undone: from now on CancelOperation is refused.
  // CancelledByClientStatus when the cancel came first.
  absl::Status MarkIrreversible() { return MarkIrreversibleWith({}).status(); }
  // MarkIrreversible, writing `with` (this operation's artifacts) in the same write: true when
  // written, false when the operation was irreversible already (nothing written).
  absl::StatusOr<bool> MarkIrreversibleWith(std::vector<journal::Artifact> with);
  // Puts the operation in WAITING_FOR_INPUT for the env var values and returns
  // WaitingForInputStatus() for the flow to return.
  absl::Status WaitForInput(absl::string_view step, absl::string_view reason);

  // Encrypts the held env var values to `public_key_hex` (cloudapi::EncryptEnvVars) without
  // copying them; nullopt when they are not held (lost in a restart before encryption).
  absl::StatusOr<std::optional<std::string>> EncryptEnvValues(absl::string_view public_key_hex) const;
  // Wipes and drops them (after the ciphertext is journaled).
  void ForgetEnvValues();

  // Call options for network waits: cancelled by CancelOperation or shutdown.
  chain::jsonrpc::CallOptions Call(absl::Duration timeout) const;
  bool stopping() const { return rt_.stopping_.load(); }
  // Sleeps `d`; false when cancelled or stopping.
  bool Sleep(absl::Duration d) const { return !rt_.cancel_.SleepFor(d); }

  // Marks the operation FAILED with `status` at `step` (journaled, published).
  absl::Status Fail(absl::string_view step, const absl::Status& status);

  // CancelOperation: CANCELLED unless an irreversible effect was sent (FAILED_PRECONDITION) or
  // the operation already finished otherwise. Wakes the worker.
  absl::Status CancelByClient();
  // SupplyEnvVars: hands the values over (moved from `values`) and sets the operation RUNNING.
  // FAILED_PRECONDITION unless it is WAITING_FOR_INPUT. The caller checked the keys.
  absl::Status SupplyEnvValues(absl::string_view request_id, std::vector<cloudapi::EnvVar>& values);

 private:
  friend class StepRun;
  absl::Status UpdateLocked(const std::function<void(v1::Operation&, state::FlowState&)>& fn, std::vector<Event> events,
                            bool allow_terminal, std::vector<journal::Artifact> artifacts = {})
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(rt_.mu_);
  absl::Status StageLocked(const std::function<void(v1::Operation&, state::FlowState&)>& fn, std::vector<Event> events,
                           std::vector<journal::ResourceOwner> owners) ABSL_EXCLUSIVE_LOCKS_REQUIRED(rt_.mu_);
  absl::Status CancelLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(rt_.mu_);
  // OK unless the operation is finished: then what Update and Stage return (nothing changed).
  absl::Status FinishedStatusLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(rt_.mu_);
  // Journals `name` RUNNING with one more attempt (before its body runs); stages it for a
  // kNothing step of an operation journaled RUNNING. A kEffectSent step is also put in
  // FlowState.effect_sent by this write.
  absl::Status MarkStepRunning(const std::string& name, bool resumed, BeforeEffect before);

  OpRuntime& rt_;
  journal::Journal& journal_;
  const FlowDeps& deps_;
  const RunOptions options_;
};

// CPU time of the calling thread so far (CLOCK_THREAD_CPUTIME_ID): a step's or a flow's cost is
// the difference on the worker thread that runs it.
absl::Duration ThreadCpuTime();

// Helpers on the public view.
v1::Step* FindStep(v1::Operation& op, absl::string_view name);
const v1::Step* FindStep(const v1::Operation& op, absl::string_view name);
// Serializes the op + state into `record` (state, cvm_id, times, blobs).
void FillRecord(const v1::Operation& op, const state::FlowState& st, journal::OperationRecord& record);
bool IsTerminal(v1::OperationState s);

}  // namespace orchestrator::engine

#endif  // ONCHAIN_KMS_ORCHESTRATOR_ENGINE_OP_CONTEXT_H_
