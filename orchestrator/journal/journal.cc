#include "orchestrator/journal/journal.h"

#include <algorithm>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace orchestrator::journal {
namespace {

constexpr char kMark[] = "type.onchain-kms/orchestrator.journal.Fencing";

absl::Status Marked(absl::string_view message, absl::string_view mark) {
  absl::Status s(absl::StatusCode::kFailedPrecondition, message);
  s.SetPayload(kMark, absl::Cord(mark));
  return s;
}

bool HasMark(const absl::Status& s, absl::string_view mark) {
  absl::optional<absl::Cord> p = s.GetPayload(kMark);
  return p.has_value() && *p == mark;
}

}  // namespace

bool IsTerminalState(int state) { return state == 4 || state == 5 || state == 6; }

absl::Status LeaseLostError(absl::string_view detail) {
  return Marked(absl::StrCat("lease lost: ", detail), "lease-lost");
}
bool IsLeaseLost(const absl::Status& s) { return HasMark(s, "lease-lost"); }

absl::Status CancelRequestedError(absl::string_view id) {
  return Marked(absl::StrCat("operation ", id, ": a cancel was requested"), "cancel-requested");
}
bool IsCancelRequested(const absl::Status& s) { return HasMark(s, "cancel-requested"); }

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
