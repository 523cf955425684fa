#include "orchestrator/flows/wait_running.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "chain/hash32.h"
#include "cloudapi/cloud_client.h"
#include "google/protobuf/util/time_util.h"
#include "orchestrator/engine/status_marks.h"
#include "orchestrator/flows/common.h"
#include "orchestrator/flows/resource_names.h"
#include "platform/status_macros.h"

namespace orchestrator::flows {
namespace {

using google::protobuf::util::TimeUtil;

std::string Text(absl::Duration d) { return absl::FormatDuration(d); }

// The CVM and the compose hash the operation deployed or changed it to.
struct Target {
  std::string cvm_id;
  chain::Hash32 compose_hash;
};

absl::StatusOr<Target> TargetOf(const v1::Operation& op, const state::FlowState& st) {
  const bool deploy = op.kind() == v1::OPERATION_KIND_DEPLOY_CVM;
  Target t;
  t.cvm_id = deploy ? op.deploy().cvm_id() : op.update().cvm_id();
  if (t.cvm_id.empty()) return absl::FailedPreconditionError("wait_running: the operation has no CVM id");
  std::string hash = deploy ? op.deploy().compose_hash() : op.update().compose_hash();
  if (hash.empty()) hash = deploy ? st.provision().compose_hash() : st.expected_compose_hash();
  ASSIGN_OR_RETURN(t.compose_hash, HashField("compose_hash", hash));
  return t;
}

// Writes the status (and, once running, the time) into the operation's result.
void SetResult(v1::Operation& op, const std::string& status, std::optional<absl::Time> running) {
  const auto stamp = [&](google::protobuf::Timestamp* ts) {
    if (running.has_value()) *ts = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(*running));
  };
  if (op.kind() == v1::OPERATION_KIND_DEPLOY_CVM) {
    op.mutable_deploy()->set_status(status);
    if (running.has_value()) stamp(op.mutable_deploy()->mutable_running_time());
  } else {
    op.mutable_update()->set_status(status);
    if (running.has_value()) stamp(op.mutable_update()->mutable_running_time());
  }
}

}  // namespace

bool IsCvmErrorStatus(absl::string_view status) {
  return std::find(std::begin(kCvmErrorStatuses), std::end(kCvmErrorStatuses), status) != std::end(kCvmErrorStatuses);
}

absl::Duration ReadinessTimeout(const v1::ReadinessWait& wait) {
  if (!wait.has_timeout()) return kDefaultReadinessTimeout;
  const absl::Duration d = absl::Seconds(wait.timeout().seconds()) + absl::Nanoseconds(wait.timeout().nanos());
  return d > absl::ZeroDuration() ? d : kDefaultReadinessTimeout;
}

absl::Status WaitRunning(engine::OpContext& ctx, engine::StepRun& run, const v1::ReadinessWait& wait) {
  ASSIGN_OR_RETURN(const Target target, TargetOf(ctx.Operation(), ctx.State()));
  ASSIGN_OR_RETURN(const cloudapi::CvmRef ref, CvmRefFor(target.cvm_id));
  const std::string want = target.compose_hash.Hex();
  // The first start of the step is journaled once; a restart keeps the deadline.
  if (ctx.State().readiness().started_unix_micros() == 0) {
    RETURN_IF_ERROR(ctx.Update([](v1::Operation&, state::FlowState& st) {
      st.mutable_readiness()->set_started_unix_micros(absl::ToUnixMicros(absl::Now()));
    }));
  }
  const absl::Duration timeout = ReadinessTimeout(wait);
  const absl::Time deadline = absl::FromUnixMicros(ctx.State().readiness().started_unix_micros()) + timeout;
  absl::Duration interval = kReadinessFirstPoll;
  for (;;) {
    const state::ReadinessProgress seen = ctx.State().readiness();
    if (absl::Now() >= deadline) {
      return engine::FinalStatus(
          absl::StatusCode::kDeadlineExceeded,
          absl::StrCat("wait_running: CVM ", target.cvm_id, " did not report status \"running\" with compose hash ",
                       want, " within ", Text(timeout), " (", seen.polls(), " polls; last status \"",
                       seen.last_status(), "\")"));
    }
    absl::StatusOr<cloudapi::CvmInfo> info = ctx.deps().cloud->GetCvmInfo(ref);
    if (!info.ok() && !engine::IsTransient(info.status())) return info.status();
    const int64_t polls = seen.polls() + 1;
    const std::string status = info.ok() ? info->status : seen.last_status();
    const std::string hash = info.ok() && info->compose_hash.has_value() ? info->compose_hash->Hex() : "";
    const bool running = info.ok() && status == "running" && info->compose_hash == target.compose_hash;
    const absl::Time now = absl::Now();
    std::string detail =
        info.ok() ? absl::StrCat("poll ", polls, ": status \"", status, "\", compose hash ", hash.empty() ? "-" : hash)
                  : absl::StrCat("poll ", polls, ": ", info.status().message());
    RETURN_IF_ERROR(ctx.Update([&](v1::Operation& op, state::FlowState& st) {
      st.mutable_readiness()->set_polls(polls);
      st.mutable_readiness()->set_last_status(status);
      if (!status.empty()) SetResult(op, status, running ? std::optional<absl::Time>(now) : std::nullopt);
    }));
    if (running) {
      return run.Succeed(nullptr, absl::StrCat("CVM ", target.cvm_id, " running compose hash ", want, " after ", polls,
                                               polls == 1 ? " poll" : " polls"));
    }
    if (IsCvmErrorStatus(status)) {
      return absl::FailedPreconditionError(absl::StrCat("wait_running: CVM ", target.cvm_id, " reports status \"",
                                                        status, "\" (poll ", polls,
                                                        "); it will not come up by itself"));
    }
    absl::StrAppend(&detail, "; waiting for \"running\" with ", want);
    RETURN_IF_ERROR(run.Progress(detail));
    if (!ctx.Sleep(std::min(interval, std::max(deadline - absl::Now(), absl::ZeroDuration())))) {
      return absl::CancelledError("wait_running: interrupted");
    }
    interval = std::min(interval * 2, kReadinessMaxPoll);
  }
}

}  // namespace orchestrator::flows
