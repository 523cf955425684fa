// One kmsctl command, declared once (as gRPC's grpc_cli keeps its command table): its words,
// flags and help texts, the builder that turns its flags into the request, and the runner that
// sends it. commands.cc holds the table; nothing else lists the commands.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_COMMAND_SPEC_H_
#define ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_COMMAND_SPEC_H_

#include <string>
#include <vector>

#include "absl/strings/str_join.h"

namespace kmsctl {

class FlagReader;  // flag_reader.h: typed access to one command line's flags
class Session;     // runner.h: the calls against the orchestrator
struct Invocation;

// kOptionalDuration: "--name" alone (recorded as "") or "--name=DURATION".
enum class FlagType { kString, kBool, kUint, kDuration, kOptionalDuration, kList };

struct FlagSpec {
  std::string name;  // without "--", with dashes
  FlagType type;
  std::string value;  // placeholder in help ("FILE"); for bools "" or "[=false]" (optional fields)
  std::string help;
};

struct CommandSpec {
  std::vector<std::string> words;  // {"ops", "get"}
  std::string args;                // positional arguments in the usage line
  int min_args = 0;
  int max_args = 0;
  std::string summary;      // one line
  std::string usage;        // flags part of the usage line
  std::string description;  // paragraphs
  std::vector<FlagSpec> flags;
  // Starts (or feeds) an operation: carries a request id.
  bool mutating = false;
  // The request from the flags and arguments (errors through the reader).
  void (*build)(FlagReader& flags, Invocation* invocation) = nullptr;
  // Sends it; returns the exit code.
  int (*run)(Session& session) = nullptr;

  std::string name() const { return absl::StrJoin(words, " "); }
};

}  // namespace kmsctl

#endif  // ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_COMMAND_SPEC_H_
