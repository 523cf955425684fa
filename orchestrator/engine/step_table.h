// A flow declared once, as a table of steps: StepTable runs them in order through
// OpContext::RunStep, and the step list of a new operation (Flow::InitialSteps) is derived
// from the same table, so no flow lists its steps twice.
//
// Per step the table says what the step is (name, effect), what it journals before its effect
// (BeforeEffect; the effect journals its result with run.Succeed), whether the operation has it
// at all (`included`, from the request), and, decided when the step is reached, whether it is
// SKIPPED (`skip_when`) or refused (`precondition`).
#ifndef ONCHAIN_KMS_ORCHESTRATOR_ENGINE_STEP_TABLE_H_
#define ONCHAIN_KMS_ORCHESTRATOR_ENGINE_STEP_TABLE_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "orchestrator/engine/flow.h"
#include "orchestrator/engine/op_context.h"
#include "orchestrator/engine/status_marks.h"
#include "platform/status_macros.h"

namespace orchestrator::engine {

// One step of a flow over requests of type `Request` (the v1 request message of its kind).
template <typename Request>
struct Step {
  using Effect = std::function<absl::Status(OpContext&, StepRun&, const Request&)>;

  const char* name = "";
  BeforeEffect before = BeforeEffect::kNothing;
  // Runs (or resumes) the step's effect; journals its result with run.Succeed.
  Effect effect;
  // Whether operations with this request have the step at all. Unset: always.
  std::function<bool(const Request&)> included;
  // When reached: a reason to mark the step SKIPPED instead of running it. Unset: never.
  std::function<std::optional<std::string>(const state::FlowState&, const Request&)> skip_when;
  // When reached: an error fails the step and the operation without running it. Unset: none.
  std::function<absl::Status(const state::FlowState&, const Request&)> precondition;
};

template <typename Request>
class StepTable final : public Flow {
 public:
  // After the last step, `finish` (if set) journals the operation's result; it runs again on
  // every resume that gets that far, so it must be idempotent.
  using Finish = std::function<absl::Status(OpContext&, const Request&)>;

  explicit StepTable(std::vector<Step<Request>> steps, Finish finish = nullptr)
      : steps_(std::move(steps)), finish_(std::move(finish)) {}

  std::vector<std::string> InitialSteps(const state::FlowState& st) const override {
    Request req;
    req.ParseFromString(st.request());
    std::vector<std::string> names;
    for (const Step<Request>& step : steps_) {
      if (!step.included || step.included(req)) names.emplace_back(step.name);
    }
    return names;
  }

  absl::Status Run(OpContext& ctx) override {
    Request req;
    if (!req.ParseFromString(ctx.State().request())) return absl::DataLossError("journal: request does not parse");
    for (const Step<Request>& step : steps_) {
      if (!step.included || step.included(req)) RETURN_IF_ERROR(RunOne(ctx, step, req));
    }
    return finish_ ? finish_(ctx, req) : absl::OkStatus();
  }

 private:
  static absl::Status RunOne(OpContext& ctx, const Step<Request>& step, const Request& req) {
    if (ctx.StepFinished(step.name)) return absl::OkStatus();
    if (step.skip_when) {
      if (std::optional<std::string> reason = step.skip_when(ctx.State(), req)) return ctx.Skip(step.name, *reason);
    }
    if (step.precondition) {
      if (absl::Status s = step.precondition(ctx.State(), req); !s.ok()) {
        // A failure that cannot be journaled pauses the operation (manager.h).
        if (absl::Status f = ctx.Fail(step.name, s); IsJournalUnavailable(f)) return f;
        return s;
      }
    }
    return ctx.RunStep(step.name, step.before, [&](StepRun& run) { return step.effect(ctx, run, req); });
  }

  std::vector<Step<Request>> steps_;
  Finish finish_;
};

}  // namespace orchestrator::engine

#endif  // ONCHAIN_KMS_ORCHESTRATOR_ENGINE_STEP_TABLE_H_
