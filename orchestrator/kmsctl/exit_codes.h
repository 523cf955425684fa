// kmsctl's exit codes: each says what a script should do next. Documented in README.md and in
// `kmsctl --help`; never renumbered.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_EXIT_CODES_H_
#define ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_EXIT_CODES_H_

#include <string>

#include "grpcpp/support/status.h"
#include "onchainkms/orchestrator/v1/orchestrator.pb.h"

namespace kmsctl {

enum ExitCode : int {
  kExitOk = 0,                   // done (an operation SUCCEEDED, or accepted with --no-wait)
  kExitError = 1,                // anything else (INTERNAL, UNKNOWN, UNIMPLEMENTED, ...)
  kExitUsage = 2,                // bad command line: unknown command or flag, missing flag
  kExitInvalidArgument = 3,      // the request is invalid (INVALID_ARGUMENT, OUT_OF_RANGE), or an
                                 // input file is unreadable or malformed
  kExitNotFound = 4,             // NOT_FOUND: no such operation, CVM, KMS
  kExitOperationFailed = 5,      // the operation ended FAILED (Operation.error says why)
  kExitUnavailable = 6,          // cannot reach the orchestrator, or UNAVAILABLE: retry later with
                                 // the same --request-id
  kExitAlreadyExists = 7,        // ALREADY_EXISTS: the --request-id belongs to another request
  kExitFailedPrecondition = 8,   // FAILED_PRECONDITION: e.g. cancel after an on-chain effect
  kExitPermissionDenied = 9,     // UNAUTHENTICATED or PERMISSION_DENIED
  kExitOperationCancelled = 10,  // the operation ended CANCELLED
  kExitWaitingForInput = 11,     // the operation waits for env values: `kmsctl ops supply-envs`
  kExitTimeout = 12,             // --timeout passed (or DEADLINE_EXCEEDED); the operation goes on
  kExitInterrupted = 130,        // Ctrl-C; a started operation goes on in the orchestrator
};

// "INVALID_ARGUMENT" for 3 (google.rpc.Code names); "code N" outside the known range.
std::string StatusCodeName(int code);

// The exit code for a failed RPC.
int ExitCodeForStatus(grpc::StatusCode code);

// The exit code for where an operation stands when kmsctl stops following it.
int ExitCodeForState(onchainkms::orchestrator::v1::OperationState state);

}  // namespace kmsctl

#endif  // ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_EXIT_CODES_H_
