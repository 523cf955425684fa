// kmsctl's output: text for people, proto3 JSON for scripts. Pure functions of the messages (no
// clock, no terminal), so that tests can pin them. Env var values never reach here: the API
// never returns them.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_OUTPUT_H_
#define ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_OUTPUT_H_

#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "onchainkms/orchestrator/v1/orchestrator.pb.h"

namespace kmsctl {

namespace v1 = ::onchainkms::orchestrator::v1;

// Proto3 JSON on one line: field names as in the .proto (snake_case), enums by name, 64-bit
// integers as strings, fields with default values included (so `jq .state` always finds one).
std::string ToJson(const google::protobuf::Message& message);

// "KMS_TYPE_BASE" -> "base", "OPERATION_STATE_WAITING_FOR_INPUT" -> "waiting_for_input".
std::string ShortName(v1::KmsType v);
std::string ShortName(v1::OperationKind v);
std::string ShortName(v1::OperationState v);
std::string ShortName(v1::StepState v);

// A duration for people: "850ms", "2.41s", "1m05s".
std::string FormatSeconds(double seconds);

// Seconds from `from` to `to`; 0 if either is unset.
double SecondsBetween(const google::protobuf::Timestamp& from, const google::protobuf::Timestamp& to);

// The whole operation: header, steps with their transactions, then the result or the error.
std::string FormatOperation(const v1::Operation& op);

// The end of a followed operation, for people: its outcome line, then the result fields, the
// error, or what input it waits for.
std::string FormatOutcome(const v1::Operation& op);
// What the app's owner must send for an operation in WAITING_FOR_OWNER (Operation.owner_action),
// with a ready-to-run `cast send` line and the `ops submit-owner-tx` command; each line indented.
std::string FormatOwnerAction(const v1::Operation& op, absl::string_view indent);

// A table of operations (ListOperations), with the next-page hint.
std::string FormatOperationList(const v1::ListOperationsResponse& response);

// A CVM: "name  value" lines.
std::string FormatCvm(const v1::Cvm& cvm);
// A table of CVMs (ListCvms), with the next-page hint.
std::string FormatCvmList(const v1::ListCvmsResponse& response);
// A table of nodes with their device ids.
std::string FormatNodeList(const v1::ListNodesResponse& response);

// A table of KMS instances.
// An app contract's state (GetAppState), each line prefixed with `indent`.
std::string FormatAppState(const v1::AppState& state, const std::string& indent = "");

std::string FormatKmsList(const v1::ListKmsInstancesResponse& response);

// Renders a WatchOperation stream as progress lines, one per event, for people. After a
// reconnect the new SNAPSHOT repeats nothing already printed.
class ProgressPrinter {
 public:
  // The lines for one event (possibly empty), each ending in '\n'.
  std::string OnEvent(const v1::OperationEvent& event);

 private:
  std::string StepLine(const v1::Step& step, const std::string& verb, const std::string& extra) const;
  std::string EventLine(const v1::OperationEvent& event, const std::string& verb, const std::string& extra) const;
  std::string SnapshotLines(const v1::Operation& op);
  std::string StateLine(const v1::OperationEvent& event);
  std::string Elapsed(const google::protobuf::Timestamp& t) const;

  bool header_printed_ = false;
  google::protobuf::Timestamp start_;
  v1::OperationState last_state_ = v1::OPERATION_STATE_UNSPECIFIED;
  // What has been printed per step: its state and the transaction hash last shown.
  std::map<std::string, std::pair<v1::StepState, std::string>> shown_;
};

}  // namespace kmsctl

#endif  // ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_OUTPUT_H_
