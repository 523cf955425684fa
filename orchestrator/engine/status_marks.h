// Statuses that unwind a flow without failing its operation. They carry a payload so that no
// one has to compare messages.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_ENGINE_STATUS_MARKS_H_
#define ONCHAIN_KMS_ORCHESTRATOR_ENGINE_STATUS_MARKS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace orchestrator::engine {

// The operation now waits for SupplyEnvVars (state WAITING_FOR_INPUT, journaled).
absl::Status WaitingForInputStatus();
bool IsWaitingForInput(const absl::Status& s);

// The process is shutting down: the step stays RUNNING in the journal and resumes on restart.
absl::Status StoppingStatus(absl::string_view what);
bool IsStopping(const absl::Status& s);

// The operation was cancelled by CancelOperation (already journaled).
absl::Status CancelledByClientStatus();
bool IsCancelledByClient(const absl::Status& s);

// A journal write of the operation failed with UNAVAILABLE (journal.h: not written, retry later)
// after OpContext's short retries: `cause` with the mark. The step that got it stops (its body
// does not run, or its result is not recorded) and the manager pauses the operation until the
// journal works again. Kept apart from a step's own UNAVAILABLE, which the step retries.
absl::Status JournalUnavailableStatus(const absl::Status& cause);
bool IsJournalUnavailable(const absl::Status& s);

// A step's final verdict with a code the engine would otherwise retry (wait_running's
// DEADLINE_EXCEEDED once its own timeout has passed): the step and the operation fail at once.
absl::Status FinalStatus(absl::StatusCode code, absl::string_view message);

// A failure that is worth retrying: the peer was unavailable, slow, rate-limited, or answered
// 5xx, unless it is a FinalStatus. Everything else fails the step at once.
bool IsTransient(const absl::Status& s);

}  // namespace orchestrator::engine

#endif  // ONCHAIN_KMS_ORCHESTRATOR_ENGINE_STATUS_MARKS_H_
