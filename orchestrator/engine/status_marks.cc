#include "orchestrator/engine/status_marks.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "cloudapi/api_error.h"

namespace orchestrator::engine {
namespace {
constexpr char kMark[] = "type.onchain-kms/orchestrator.FlowMark";
absl::Status Marked(absl::StatusCode code, absl::string_view message, absl::string_view mark) {
  absl::Status s(code, message);
  s.SetPayload(kMark, absl::Cord(mark));
  return s;
}
bool HasMark(const absl::Status& s, absl::string_view mark) {
  absl::optional<absl::Cord> p = s.GetPayload(kMark);
  return p.has_value() && *p == mark;
}
}  // namespace

absl::Status WaitingForInputStatus() {
  return Marked(absl::StatusCode::kFailedPrecondition, "waiting for env var values (SupplyEnvVars)", "waiting");
}
bool IsWaitingForInput(const absl::Status& s) { return HasMark(s, "waiting"); }

absl::Status StoppingStatus(absl::string_view what) {
  return Marked(absl::StatusCode::kUnavailable, absl::StrCat("orchestrator shutting down during ", what), "stopping");
}
bool IsStopping(const absl::Status& s) { return HasMark(s, "stopping"); }

absl::Status CancelledByClientStatus() {
  return Marked(absl::StatusCode::kCancelled, "operation cancelled", "cancelled");
}
bool IsCancelledByClient(const absl::Status& s) { return HasMark(s, "cancelled"); }

absl::Status JournalUnavailableStatus(const absl::Status& cause) {
  return Marked(cause.code(), cause.message(), "journal");
}
bool IsJournalUnavailable(const absl::Status& s) { return HasMark(s, "journal"); }

absl::Status FinalStatus(absl::StatusCode code, absl::string_view message) { return Marked(code, message, "final"); }

bool IsTransient(const absl::Status& s) {
  if (HasMark(s, "final")) return false;
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return true;
    case absl::StatusCode::kInternal: {
      // A Phala Cloud 5xx (the request may be retried; effects are checked on resume).
      std::optional<cloudapi::ApiErrorInfo> info = cloudapi::GetApiErrorInfo(s);
      return info.has_value() && info->http_status >= 500;
    }
    default:
      return false;
  }
}

}  // namespace orchestrator::engine
