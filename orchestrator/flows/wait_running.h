// The "wait_running" step of a deploy or update with ReadinessWait (orchestrator.proto): after
// the last step, poll the CVM (GET /cvms/{id}) with back-off until it reports status "running"
// and the operation's compose hash.
//
//   - The timeout (ReadinessWait.timeout; unset or 0: 10 minutes) counts from the step's first
//     start, journaled in FlowState.readiness, so a restart of the orchestrator does not reset it.
//     When it passes: the step and the operation FAIL with DEADLINE_EXCEEDED (not retried); the
//     result keeps everything earlier steps filled in, plus the last status seen.
//   - A status of kCvmErrorStatuses fails the step at once with FAILED_PRECONDITION naming it.
//   - A transient API error (UNAVAILABLE, 5xx, ...) counts as a poll that saw nothing; any other
//     error (e.g. NOT_FOUND: the CVM is gone) fails the step.
//   - Each poll journals its count and what it saw as the step's detail (STEP_PROGRESS), and the
//     status into the result (DeployResult.status / UpdateResult.status); success also sets
//     running_time.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_FLOWS_WAIT_RUNNING_H_
#define ONCHAIN_KMS_ORCHESTRATOR_FLOWS_WAIT_RUNNING_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "onchainkms/orchestrator/v1/orchestrator.pb.h"
#include "orchestrator/engine/op_context.h"
#include "orchestrator/engine/step_table.h"

namespace orchestrator::flows {

inline constexpr char kWaitRunning[] = "wait_running";
inline constexpr absl::Duration kDefaultReadinessTimeout = absl::Minutes(10);
// Poll interval: doubles from the first to the last value.
inline constexpr absl::Duration kReadinessFirstPoll = absl::Milliseconds(500);
inline constexpr absl::Duration kReadinessMaxPoll = absl::Seconds(10);

// Statuses after which a CVM will not come up by itself.
inline constexpr absl::string_view kCvmErrorStatuses[] = {"error",  "failed",  "stopped",
                                                          "exited", "deleted", "terminated"};
bool IsCvmErrorStatus(absl::string_view status);

// The wait's timeout: ReadinessWait.timeout, or kDefaultReadinessTimeout when unset or 0 (the
// service refuses more than 24 h: service/validation.h).
absl::Duration ReadinessTimeout(const ::onchainkms::orchestrator::v1::ReadinessWait& wait);

// The step's body; the CVM and compose hash come from the operation's result (deploy or update).
absl::Status WaitRunning(engine::OpContext& ctx, engine::StepRun& run,
                         const ::onchainkms::orchestrator::v1::ReadinessWait& wait);

// The step for a request type with a `wait_until_running` field; included when it is enabled.
template <typename Request>
engine::Step<Request> WaitRunningStep() {
  return {.name = kWaitRunning,
          .effect = [](engine::OpContext& ctx, engine::StepRun& run,
                       const Request& req) { return WaitRunning(ctx, run, req.wait_until_running()); },
          .included = [](const Request& req) { return req.wait_until_running().enabled(); }};
}

}  // namespace orchestrator::flows

#endif  // ONCHAIN_KMS_ORCHESTRATOR_FLOWS_WAIT_RUNNING_H_
