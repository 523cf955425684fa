#include "orchestrator/journal/journal.h"

#include <algorithm>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace orchestrator::journal {
namespace {

// One payload per kind of refusal; its presence is the mark.
constexpr char kLeaseLost[] = "type.onchain-kms/orchestrator.journal.LeaseLost";
constexpr char kCancelRequested[] = "type.onchain-kms/orchestrator.journal.CancelRequested";

}  // namespace

bool IsTerminalState(int state) { return state == 4 || state == 5 || state == 6; }

absl::Status CheckUpdateOptions(const OperationRecord& record, const UpdateOptions& options) {
  for (const Artifact& a : options.artifacts) {
    if (a.operation_id != record.id) {
      return absl::InvalidArgumentError(absl::StrCat("journal: update of ", record.id, " carries artifact ", a.key,
                                                     " of operation ", a.operation_id));
    }
  }
  return absl::OkStatus();
}

absl::Status LeaseLostError(absl::string_view detail) {
  absl::Status s = absl::FailedPreconditionError(absl::StrCat("lease lost: ", detail));
  s.SetPayload(kLeaseLost, absl::Cord());
  return s;
}
bool IsLeaseLost(const absl::Status& s) { return s.GetPayload(kLeaseLost).has_value(); }

absl::Status CancelRequestedError(absl::string_view id) {
  absl::Status s = absl::FailedPreconditionError(absl::StrCat("operation ", id, ": a cancel was requested"));
  s.SetPayload(kCancelRequested, absl::Cord());
  return s;
}
bool IsCancelRequested(const absl::Status& s) { return s.GetPayload(kCancelRequested).has_value(); }

absl::StatusOr<std::optional<OperationRecord>> Journal::ClaimOne(absl::string_view id, std::vector<int> states) {
  absl::StatusOr<OperationRecord> r = Get(id);
  if (!r.ok()) return r.status();
  if (std::find(states.begin(), states.end(), r->state) == states.end()) return std::optional<OperationRecord>();
  return std::optional<OperationRecord>(*std::move(r));
}

absl::StatusOr<bool> Journal::RequestCancel(absl::string_view id) {
  absl::StatusOr<OperationRecord> r = Get(id);
  if (!r.ok()) return r.status();
  return !IsTerminalState(r->state) && !r->irreversible;
}

}  // namespace orchestrator::journal
