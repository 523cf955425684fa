// Typed access to the flags and arguments of one parsed command line, for the request builders of
// the command table (commands.cc). Remembers the first error; values never appear in errors.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_FLAG_READER_H_
#define ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_FLAG_READER_H_

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "orchestrator/kmsctl/command_spec.h"
#include "orchestrator/kmsctl/invocation.h"

namespace kmsctl {

// What the parser collected: each flag's values (bools as "true"/"false") and the arguments.
struct FlagValues {
  std::map<std::string, std::vector<std::string>> flags;
  std::vector<std::string> args;
};

// A usage error (exit 2).
CliError Usage(std::string message);

class FlagReader {
 public:
  FlagReader(const CommandSpec* spec, const FlagValues& values, Io& io) : spec_(spec), values_(values), io_(io) {}

  // The i-th positional argument, "" if absent.
  std::string Arg(size_t i) const { return i < values_.args.size() ? values_.args[i] : ""; }

  bool Has(const std::string& name) const { return values_.flags.count(name) > 0; }
  std::string Str(const std::string& name) const;
  std::optional<bool> Bool(const std::string& name) const;
  bool Flag(const std::string& name) const { return Bool(name).value_or(false); }
  std::optional<uint64_t> Uint(const std::string& name, uint64_t max = UINT64_MAX);
  // Comma-separated and repeatable.
  std::vector<std::string> List(const std::string& name) const;
  // An enum value by its short name ("base", "deploy-cvm") or full name, case-insensitively.
  template <typename E>
  std::optional<E> Enum(const std::string& name, const google::protobuf::EnumDescriptor* d, absl::string_view prefix) {
    std::optional<int> v = EnumNumber(name, d, prefix);
    if (!v.has_value()) return std::nullopt;
    return static_cast<E>(*v);
  }

  // The content of the file the flag names ('-' = stdin, at most once per command line).
  std::optional<std::string> File(const std::string& name);
  // The env vars of the file the flag names, parsed as the Phala Cloud SDK does (strictly: a
  // line the SDK would silently drop is an error). The file's text is zeroed once parsed.
  std::optional<std::vector<v1::EnvVar>> EnvFile(const std::string& name);

  // A usage error for each flag of `names` not given.
  void Require(std::initializer_list<const char*> names);
  void Fail(CliError e);
  const std::optional<CliError>& error() const { return error_; }

 private:
  std::optional<int> EnumNumber(const std::string& name, const google::protobuf::EnumDescriptor* d,
                                absl::string_view prefix);

  const CommandSpec* spec_;
  const FlagValues& values_;
  Io& io_;
  std::optional<std::string> stdin_used_by_;
  std::optional<CliError> error_;
};

}  // namespace kmsctl

#endif  // ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_FLAG_READER_H_
