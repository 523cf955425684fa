#include "orchestrator/kmsctl/output.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "orchestrator/kmsctl/exit_codes.h"

namespace kmsctl {
namespace {

std::string Short(const google::protobuf::EnumDescriptor* d, int value, absl::string_view prefix) {
  const google::protobuf::EnumValueDescriptor* v = d->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(value);
  absl::string_view name = v->name();
  absl::ConsumePrefix(&name, prefix);
  return absl::AsciiStrToLower(name);
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(t.seconds()), absl::UTCTimeZone());
}

bool IsSet(const google::protobuf::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

// "FAILED_PRECONDITION (9)".
std::string CodeWithNumber(int code) { return absl::StrCat(StatusCodeName(code), " (", code, ")"); }

// Rows of cells -> aligned columns (two spaces apart), no trailing spaces.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

// The step's own line in FormatOperation.
std::string StepSummary(const v1::Step& s) {
  std::vector<std::string> parts;
  if (IsSet(s.start_time()) && IsSet(s.finish_time())) {
    parts.push_back(FormatSeconds(SecondsBetween(s.start_time(), s.finish_time())));
  }
  if (!s.transaction_hash().empty()) parts.push_back("tx " + s.transaction_hash());
  if (s.block_number() != 0) parts.push_back(absl::StrCat("block ", s.block_number()));
  if (s.attempts() > 1) parts.push_back(absl::StrCat(s.attempts(), " attempts"));
  if (!s.detail().empty()) parts.push_back(s.detail());
  return absl::StrJoin(parts, "  ");
}

// Every field of a result message that is set, "name  value" per line, in field order.
std::string ResultFields(const google::protobuf::Message& m) {
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  std::vector<std::vector<std::string>> rows;
  for (const google::protobuf::FieldDescriptor* f : fields) {
    std::string value;
    switch (f->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
        value = r->GetString(m, f);
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT64:
        value = absl::StrCat(r->GetUInt64(m, f));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_INT64:
        value = absl::StrCat(r->GetInt64(m, f));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT32:
        value = absl::StrCat(r->GetUInt32(m, f));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_INT32:
        value = absl::StrCat(r->GetInt32(m, f));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_BOOL:
        value = r->GetBool(m, f) ? "yes" : "no";
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_ENUM: {
        const google::protobuf::EnumValueDescriptor* e = r->GetEnum(m, f);
        absl::string_view name = e->name();
        // Strip the enum's prefix, its type name in UPPER_SNAKE (KmsType -> KMS_TYPE_).
        std::string upper_prefix;
        for (char c : e->type()->name()) {
          if (absl::ascii_isupper(static_cast<unsigned char>(c)) && !upper_prefix.empty()) upper_prefix += '_';
          upper_prefix += absl::ascii_toupper(static_cast<unsigned char>(c));
        }
        absl::ConsumePrefix(&name, upper_prefix + "_");
        value = absl::AsciiStrToLower(name);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE:
        if (f->message_type() == google::protobuf::Timestamp::descriptor()) {
          value = google::protobuf::util::TimeUtil::ToString(
              static_cast<const google::protobuf::Timestamp&>(r->GetMessage(m, f)));
          break;
        }
        continue;  // printed after the table by the caller (ResultText)
      default:
        value = "(" + std::string(f->type_name()) + ")";
    }
    rows.push_back({"  " + f->name(), value});
  }
  return Table(rows);
}

// The operation's result (whichever kind), with an app contract change's state after it.
std::string ResultText(const v1::Operation& op) {
  const google::protobuf::OneofDescriptor* oneof = v1::Operation::descriptor()->FindOneofByName("result");
  const google::protobuf::FieldDescriptor* f = op.GetReflection()->GetOneofFieldDescriptor(op, oneof);
  if (f == nullptr) return "";
  std::string out = ResultFields(op.GetReflection()->GetMessage(op, f));
  if (op.has_app_contract_change() && op.app_contract_change().has_state()) {
    absl::StrAppend(&out, "  state:\n", FormatAppState(op.app_contract_change().state(), "    "));
  }
  return out;
}

}  // namespace

std::string FormatAppState(const v1::AppState& s, const std::string& indent) {
  auto yes = [](bool b) { return std::string(b ? "yes" : "no"); };
  std::vector<std::vector<std::string>> rows = {
      {indent + "chain", absl::StrCat(s.chain_id())},
      {indent + "app contract", s.app_contract_address()},
      {indent + "block", absl::StrCat(s.block_number())},
      {indent + "owner", absl::StrCat(s.owner(), s.owner_is_signer_key() ? " (a signer key)" : " (not a signer key)")},
      {indent + "ownership", s.two_step_ownership() ? "two-step" : "one-step"},
      {indent + "pending owner", s.pending_owner().empty() ? "-" : s.pending_owner()},
      {indent + "allow any device", yes(s.allow_any_device())},
      {indent + "require tcb up to date", yes(s.require_tcb_up_to_date())},
      {indent + "upgrades disabled", yes(s.upgrades_disabled())},
      {indent + "version", absl::StrCat(s.version())},
      {indent + "implementation", s.implementation_address().empty() ? "-" : s.implementation_address()},
  };
  for (const v1::Allowance& a : s.devices()) {
    rows.push_back({indent + "device " + a.value(), a.allowed() ? "allowed" : "not allowed"});
  }
  for (const v1::Allowance& a : s.compose_hashes()) {
    rows.push_back({indent + "compose hash " + a.value(), a.allowed() ? "allowed" : "not allowed"});
  }
  return Table(rows);
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}";
  return out;
}

std::string ShortName(v1::KmsType v) { return Short(v1::KmsType_descriptor(), v, "KMS_TYPE_"); }
std::string ShortName(v1::OperationKind v) { return Short(v1::OperationKind_descriptor(), v, "OPERATION_KIND_"); }
std::string ShortName(v1::OperationState v) { return Short(v1::OperationState_descriptor(), v, "OPERATION_STATE_"); }
std::string ShortName(v1::StepState v) { return Short(v1::StepState_descriptor(), v, "STEP_STATE_"); }

std::string FormatSeconds(double seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 1) return absl::StrCat(static_cast<int>(std::lround(seconds * 1000)), "ms");
  if (seconds < 60) return absl::StrFormat("%.2fs", seconds);
  const long total = std::lround(seconds);
  return absl::StrFormat("%ldm%02lds", total / 60, total % 60);
}

double SecondsBetween(const google::protobuf::Timestamp& from, const google::protobuf::Timestamp& to) {
  if (!IsSet(from) || !IsSet(to)) return 0;
  return static_cast<double>(to.seconds() - from.seconds()) + (to.nanos() - from.nanos()) / 1e9;
}

std::string FormatOperation(const v1::Operation& op) {
  std::vector<std::vector<std::string>> head = {
      {"operation", op.id()},
      {"kind", ShortName(op.kind())},
      {"state", ShortName(op.state())},
      {"request id", op.request_id()},
  };
  if (!op.caller().empty()) head.push_back({"caller", op.caller()});
  head.push_back({"created", FormatTime(op.create_time())});
  if (IsSet(op.update_time())) {
    head.push_back({"updated", absl::StrCat(FormatTime(op.update_time()), " (+",
                                            FormatSeconds(SecondsBetween(op.create_time(), op.update_time())), ")")});
  }
  if (!op.cvm_id().empty()) head.push_back({"cvm", op.cvm_id()});
  std::string out = Table(head);

  if (op.steps_size() > 0) {
    std::vector<std::vector<std::string>> rows;
    for (const v1::Step& s : op.steps()) rows.push_back({"  " + s.name(), ShortName(s.state()), StepSummary(s)});
    absl::StrAppend(&out, "steps:\n", Table(rows));
  }
  if (op.state() == v1::OPERATION_STATE_WAITING_FOR_INPUT || op.has_input_request()) {
    absl::StrAppend(&out, "waiting for input: ", op.input_request().reason(),
                    "\n  env keys: ", absl::StrJoin(op.input_request().env_keys(), ", "),
                    "\n  supply them: kmsctl ops supply-envs ", op.id(), " --env-file=FILE\n");
  }
  if (op.has_owner_action()) absl::StrAppend(&out, FormatOwnerAction(op, ""));
  if (op.has_error()) {
    const v1::OperationError& e = op.error();
    absl::StrAppend(&out, "error:\n  ", CodeWithNumber(e.code()), "  step ", e.step().empty() ? "-" : e.step(), "\n  ",
                    e.message(), "\n");
  }
  if (op.result_case() != v1::Operation::RESULT_NOT_SET) absl::StrAppend(&out, "result:\n", ResultText(op));
  return out;
}

std::string FormatOwnerAction(const v1::Operation& op, absl::string_view indent) {
  const v1::OwnerAction& a = op.owner_action();
  std::vector<std::vector<std::string>> rows = {
      {"  owner", a.owner_address()},
      {"  chain", absl::StrCat(a.chain_id())},
      {"  call", a.function_signature()},
      {"  to", a.to()},
      {"  data", a.data()},
  };
  if (!a.compose_hash().empty()) rows.push_back({"  compose hash", a.compose_hash()});
  if (!a.device_id().empty()) rows.push_back({"  device id", a.device_id()});
  rows.push_back({"  watching from block", absl::StrCat(a.watch_from_block())});
  std::string table = Table(rows);
  std::string out = absl::StrCat(indent, "waiting for the owner: ", a.reason(), "\n");
  for (absl::string_view line : absl::StrSplit(table, '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, indent, line, "\n");
  }
  absl::StrAppend(&out, indent, "  the owner sends it (add its wallet flag: --ledger, --keystore FILE, ...):\n", indent,
                  "    cast send ", a.to(), " ", a.data(), " --from ", a.owner_address(), " --rpc-url RPC_URL\n",
                  indent, "  or from a Safe: a transaction to ", a.to(), ", value 0, with that data\n", indent,
                  "  the operation goes on by itself once it is on chain; to hand it over at once:\n", indent,
                  "    kmsctl ops submit-owner-tx ", op.id(), " TX_HASH\n");
  return out;
}

std::string FormatOutcome(const v1::Operation& op) {
  std::string out = absl::StrCat(ShortName(op.state()), ": ", ShortName(op.kind()), " ", op.id());
  if (IsSet(op.update_time())) {
    absl::StrAppend(&out, " after ", FormatSeconds(SecondsBetween(op.create_time(), op.update_time())));
  }
  absl::StrAppend(&out, "\n");
  if (op.state() == v1::OPERATION_STATE_WAITING_FOR_INPUT) {
    absl::StrAppend(&out, "  waiting for input: ", op.input_request().reason(),
                    "\n  env keys: ", absl::StrJoin(op.input_request().env_keys(), ", "),
                    "\n  supply them: kmsctl ops supply-envs ", op.id(), " --env-file=FILE\n");
  }
  if (op.has_owner_action()) absl::StrAppend(&out, FormatOwnerAction(op, "  "));
  if (op.has_error()) {
    absl::StrAppend(&out, "  error: ", CodeWithNumber(op.error().code()), " in step ",
                    op.error().step().empty() ? "-" : op.error().step(), ": ", op.error().message(), "\n");
  }
  absl::StrAppend(&out, ResultText(op));
  return out;
}

std::string FormatOperationList(const v1::ListOperationsResponse& response) {
  if (response.operations().empty()) return "no operations\n";
  std::vector<std::vector<std::string>> rows = {{"ID", "KIND", "STATE", "CVM", "CREATED", "REQUEST ID"}};
  for (const v1::Operation& op : response.operations()) {
    rows.push_back({op.id(), ShortName(op.kind()), ShortName(op.state()), op.cvm_id().empty() ? "-" : op.cvm_id(),
                    FormatTime(op.create_time()), op.request_id()});
  }
  std::string out = Table(rows);
  if (!response.next_page_token().empty()) {
    absl::StrAppend(&out, "more: kmsctl ops list --page-token=", response.next_page_token(),
                    " (same filters), or --all\n");
  }
  return out;
}

std::string FormatCvm(const v1::Cvm& cvm) { return ResultFields(cvm); }

std::string FormatCvmList(const v1::ListCvmsResponse& response) {
  if (response.cvms().empty()) return response.next_page_token().empty() ? "no CVMs\n" : "no CVMs on this page\n";
  std::vector<std::vector<std::string>> rows = {{"ID", "NAME", "STATUS", "COMPOSE HASH", "KMS", "NODE"}};
  for (const v1::Cvm& c : response.cvms()) {
    rows.push_back({c.id(), c.name(), c.status().empty() ? "-" : c.status(),
                    c.compose_hash().empty() ? "-" : c.compose_hash(), ShortName(c.kms_type()),
                    c.node_id() == 0 ? "-" : absl::StrCat(c.node_id())});
  }
  std::string out = Table(rows);
  if (!response.next_page_token().empty()) {
    absl::StrAppend(&out, "more: kmsctl cvms list --page-token=", response.next_page_token(), "\n");
  }
  return out;
}

std::string FormatNodeList(const v1::ListNodesResponse& response) {
  if (response.nodes().empty()) return "no nodes\n";
  std::vector<std::vector<std::string>> rows = {{"ID", "NAME", "REGION", "DEVICE ID"}};
  for (const v1::Node& n : response.nodes()) {
    rows.push_back({absl::StrCat(n.id()), n.name(), n.region().empty() ? "-" : n.region(),
                    n.device_id().empty() ? "-" : n.device_id()});
  }
  return Table(rows);
}

std::string FormatKmsList(const v1::ListKmsInstancesResponse& response) {
  if (response.kms_instances().empty()) return "no KMS instances\n";
  std::vector<std::vector<std::string>> rows = {{"ID", "TYPE", "CHAIN", "CONTRACT", "SLUG", "VERSION", "URL"}};
  for (const v1::KmsInstance& k : response.kms_instances()) {
    rows.push_back({k.id(), ShortName(k.kms_type()), k.chain_id() == 0 ? "-" : absl::StrCat(k.chain_id()),
                    k.kms_contract_address().empty() ? "-" : k.kms_contract_address(),
                    k.slug().empty() ? "-" : k.slug(), k.version().empty() ? "-" : k.version(),
                    k.url().empty() ? "-" : k.url()});
  }
  return Table(rows);
}

// ---------------------------------------------------------------------------------------------
// ProgressPrinter

std::string ProgressPrinter::Elapsed(const google::protobuf::Timestamp& t) const {
  if (!IsSet(t) || !IsSet(start_)) return "";
  return "+" + FormatSeconds(SecondsBetween(start_, t));
}

std::string ProgressPrinter::StepLine(const v1::Step& step, const std::string& verb, const std::string& extra) const {
  const google::protobuf::Timestamp& when = IsSet(step.finish_time()) ? step.finish_time() : step.start_time();
  std::string line = absl::StrFormat("  %8s  %-24s %-9s %s", Elapsed(when), step.name(), verb, extra);
  return absl::StrCat(absl::StripTrailingAsciiWhitespace(line), "\n");
}

namespace {

// "1.00s  tx 0x…  block 7": how long a finished step took and what it sent.
std::string DoneExtra(const v1::Step& s) {
  std::vector<std::string> parts;
  if (IsSet(s.start_time()) && IsSet(s.finish_time())) {
    parts.push_back(FormatSeconds(SecondsBetween(s.start_time(), s.finish_time())));
  }
  if (!s.transaction_hash().empty()) parts.push_back("tx " + s.transaction_hash());
  if (s.block_number() != 0) parts.push_back(absl::StrCat("block ", s.block_number()));
  return absl::StrJoin(parts, "  ");
}

std::string AttemptExtra(const v1::Step& s) { return s.attempts() > 1 ? absl::StrCat("attempt ", s.attempts()) : ""; }

// The verb and the rest of a snapshot's line for a step in `state` (no verb: nothing to print).
std::pair<std::string, std::string> SnapshotVerb(const v1::Step& s) {
  switch (s.state()) {
    case v1::STEP_STATE_RUNNING:
      return {"running", AttemptExtra(s)};
    case v1::STEP_STATE_SUCCEEDED:
      return {"done", DoneExtra(s)};
    case v1::STEP_STATE_SKIPPED:
      return {"skipped", s.detail()};
    case v1::STEP_STATE_FAILED:
      return {"FAILED", s.detail()};
    default:
      return {"", ""};
  }
}

// The verb and the rest of the line for a step event; nullopt for other events.
std::optional<std::pair<std::string, std::string>> StepEventVerb(const v1::OperationEvent& event,
                                                                 const v1::Step& step) {
  const std::string& detail = event.detail().empty() ? step.detail() : event.detail();
  switch (event.type()) {
    case v1::OperationEvent::TYPE_STEP_STARTED:
      return std::make_pair("started", AttemptExtra(step));
    case v1::OperationEvent::TYPE_STEP_PROGRESS: {
      std::vector<std::string> parts;
      if (!event.detail().empty()) parts.push_back(event.detail());
      if (!event.transaction_hash().empty()) parts.push_back("tx " + event.transaction_hash());
      return std::make_pair("...", absl::StrJoin(parts, "  "));
    }
    case v1::OperationEvent::TYPE_STEP_SUCCEEDED:
      return std::make_pair("done", DoneExtra(step));
    case v1::OperationEvent::TYPE_STEP_FAILED:
      return std::make_pair("FAILED", detail);
    case v1::OperationEvent::TYPE_STEP_RETRYING:
      return std::make_pair("retrying", event.detail());
    case v1::OperationEvent::TYPE_STEP_SKIPPED:
      return std::make_pair("skipped", detail);
    default:
      return std::nullopt;
  }
}

// The event's step as the operation reports it, or one made of the event alone.
v1::Step EventStep(const v1::OperationEvent& event) {
  for (const v1::Step& s : event.operation().steps()) {
    if (s.name() == event.step()) return s;
  }
  v1::Step fallback;
  fallback.set_name(event.step());
  *fallback.mutable_start_time() = event.time();
  return fallback;
}

}  // namespace

std::string ProgressPrinter::OnEvent(const v1::OperationEvent& event) {
  const v1::Operation& op = event.operation();
  std::string out;
  if (!header_printed_) {
    header_printed_ = true;
    start_ = op.create_time();
    absl::StrAppend(&out, "operation ", op.id(), " (", ShortName(op.kind()), ", request ", op.request_id(),
                    "): ", ShortName(op.state()), "\n");
    last_state_ = op.state();
  }
  if (event.type() == v1::OperationEvent::TYPE_SNAPSHOT) {
    absl::StrAppend(&out, SnapshotLines(op));
    if (op.has_owner_action()) absl::StrAppend(&out, FormatOwnerAction(op, "  "));
    return out;
  }
  if (event.type() == v1::OperationEvent::TYPE_STATE_CHANGED) {
    absl::StrAppend(&out, StateLine(event));
    // Entering WAITING_FOR_OWNER: what the owner must send.
    if (op.has_owner_action() && op.state() == v1::OPERATION_STATE_WAITING_FOR_OWNER &&
        event.transaction_hash().empty()) {
      absl::StrAppend(&out, FormatOwnerAction(op, "  "));
    }
    return out;
  }
  const v1::Step step = EventStep(event);
  if (auto verb = StepEventVerb(event, step)) {
    shown_[step.name()] = {step.state(), step.transaction_hash()};
    return out + EventLine(event, verb->first, verb->second);
  }
  if (!event.detail().empty()) absl::StrAppend(&out, EventLine(event, "", event.detail()));
  return out;
}

std::string ProgressPrinter::EventLine(const v1::OperationEvent& event, const std::string& verb,
                                       const std::string& extra) const {
  std::string line = absl::StrFormat("  %8s  %-24s %-9s %s", Elapsed(event.time()), event.step(), verb, extra);
  return absl::StrCat(absl::StripTrailingAsciiWhitespace(line), "\n");
}

// Steps that got somewhere before this stream began (or while disconnected), unless shown.
std::string ProgressPrinter::SnapshotLines(const v1::Operation& op) {
  std::string out;
  for (const v1::Step& s : op.steps()) {
    if (s.state() == v1::STEP_STATE_PENDING || s.state() == v1::STEP_STATE_UNSPECIFIED) continue;
    auto it = shown_.find(s.name());
    if (it != shown_.end() && it->second.first == s.state()) continue;
    const auto [verb, extra] = SnapshotVerb(s);
    if (!verb.empty()) absl::StrAppend(&out, StepLine(s, verb, extra));
    shown_[s.name()] = {s.state(), s.transaction_hash()};
  }
  if (op.state() != last_state_) {
    absl::StrAppend(&out, "  state: ", ShortName(op.state()), "\n");
    last_state_ = op.state();
  }
  return out;
}

std::string ProgressPrinter::StateLine(const v1::OperationEvent& event) {
  const v1::Operation& op = event.operation();
  last_state_ = op.state();
  std::string extra;
  if (op.state() == v1::OPERATION_STATE_WAITING_FOR_INPUT) extra = ": " + op.input_request().reason();
  if (op.state() == v1::OPERATION_STATE_SUCCEEDED || op.state() == v1::OPERATION_STATE_FAILED ||
      op.state() == v1::OPERATION_STATE_CANCELLED) {
    extra = absl::StrCat(" after ", FormatSeconds(SecondsBetween(op.create_time(), event.time())));
  }
  return absl::StrCat(absl::StrFormat("  %8s  ", Elapsed(event.time())), "state: ", ShortName(op.state()), extra, "\n");
}

}  // namespace kmsctl
