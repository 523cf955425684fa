#include "orchestrator/kmsctl/flag_reader.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cloudapi/env_vars.h"
#include "orchestrator/kmsctl/exit_codes.h"

namespace kmsctl {
namespace {

// The short names of an enum's values ("deploy-cvm, update-env-vars, ..."), UNSPECIFIED left out.
std::string EnumChoices(const google::protobuf::EnumDescriptor* d, absl::string_view prefix) {
  std::vector<std::string> names;
  for (int i = 0; i < d->value_count(); ++i) {
    if (d->value(i)->number() == 0) continue;
    absl::string_view n = d->value(i)->name();
    absl::ConsumePrefix(&n, prefix);
    names.push_back(absl::StrReplaceAll(absl::AsciiStrToLower(n), {{"_", "-"}}));
  }
  return absl::StrJoin(names, ", ");
}

}  // namespace

CliError Usage(std::string message) { return CliError{kExitUsage, std::move(message)}; }

std::string FlagReader::Str(const std::string& name) const {
  auto it = values_.flags.find(name);
  return it == values_.flags.end() ? "" : it->second.back();
}

// Bool flags hold "true"/"false" (checked while parsing).
std::optional<bool> FlagReader::Bool(const std::string& name) const {
  if (!Has(name)) return std::nullopt;
  return Str(name) == "true";
}

std::optional<uint64_t> FlagReader::Uint(const std::string& name, uint64_t max) {
  if (!Has(name)) return std::nullopt;
  uint64_t v = 0;
  if (!absl::SimpleAtoi(Str(name), &v) || v > max) {
    Fail(Usage(absl::StrCat("--", name, ": not a number in 0..", max, ": '", Str(name), "'")));
    return std::nullopt;
  }
  return v;
}

std::vector<std::string> FlagReader::List(const std::string& name) const {
  std::vector<std::string> out;
  auto it = values_.flags.find(name);
  if (it == values_.flags.end()) return out;
  for (const std::string& v : it->second) {
    for (absl::string_view part : absl::StrSplit(v, ',', absl::SkipWhitespace())) {
      out.emplace_back(absl::StripAsciiWhitespace(part));
    }
  }
  return out;
}

// UNSPECIFIED (0) is never accepted.
std::optional<int> FlagReader::EnumNumber(const std::string& name, const google::protobuf::EnumDescriptor* d,
                                          absl::string_view prefix) {
  const std::string wanted = absl::AsciiStrToUpper(absl::StrReplaceAll(Str(name), {{"-", "_"}}));
  for (int i = 0; i < d->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* v = d->value(i);
    if (v->number() == 0) continue;
    absl::string_view full = v->name();
    absl::string_view short_name = full;
    absl::ConsumePrefix(&short_name, prefix);
    if (wanted == full || wanted == short_name) return v->number();
  }
  Fail(Usage(absl::StrCat("--", name, ": '", Str(name), "' is not one of ", EnumChoices(d, prefix))));
  return std::nullopt;
}

std::optional<std::string> FlagReader::File(const std::string& name) {
  if (!Has(name)) return std::nullopt;
  const std::string path = Str(name);
  absl::StatusOr<std::string> content;
  if (path == "-") {
    if (stdin_used_by_.has_value()) {
      Fail(Usage(absl::StrCat("--", name, "=- and --", *stdin_used_by_, "=- both read standard input")));
      return std::nullopt;
    }
    stdin_used_by_ = name;
    content = io_.ReadStdin();
  } else {
    content = io_.ReadFile(path);
  }
  if (!content.ok()) {
    Fail(
        CliError{kExitInvalidArgument, absl::StrCat("--", name, ": cannot read ", path == "-" ? "standard input" : path,
                                                    ": ", content.status().message())});
    return std::nullopt;
  }
  return *std::move(content);
}

std::optional<std::vector<v1::EnvVar>> FlagReader::EnvFile(const std::string& name) {
  std::optional<std::string> text = File(name);
  if (!text.has_value()) return std::nullopt;
  absl::StatusOr<std::vector<cloudapi::EnvVar>> parsed = cloudapi::ParseEnvVars(*text);
  std::fill(text->begin(), text->end(), '\0');
  if (!parsed.ok()) {
    Fail(CliError{kExitInvalidArgument, absl::StrCat("--", name, "=", Str(name), ": ", parsed.status().message())});
    return std::nullopt;
  }
  std::vector<v1::EnvVar> out;
  out.reserve(parsed->size());
  for (cloudapi::EnvVar& e : *parsed) {
    v1::EnvVar& v = out.emplace_back();
    v.set_key(e.key);
    v.set_value(e.value);
    std::fill(e.value.begin(), e.value.end(), '\0');
  }
  return out;
}

void FlagReader::Require(std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (!Has(n)) Fail(Usage(absl::StrCat("kmsctl ", spec_->name(), ": --", n, " is required")));
  }
}

void FlagReader::Fail(CliError e) {
  if (!error_.has_value()) error_ = std::move(e);
}

}  // namespace kmsctl
