#include "orchestrator/kmsctl/cli.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "chain/hex.h"
#include "cloudapi/env_vars.h"
#include "google/protobuf/descriptor.h"
#include "orchestrator/kmsctl/exit_codes.h"

namespace kmsctl {
namespace {

constexpr char kDefaultAddress[] = "unix:/run/onchain-kms/orchestrator.sock";
constexpr char kAddressEnv[] = "KMSCTL_ORCHESTRATOR";

// ---------------------------------------------------------------------------------------------
// The command table

enum class FlagType { kString, kBool, kUint, kDuration, kList };

struct FlagSpec {
  std::string name;   // without "--", with dashes
  FlagType type;
  std::string value;  // placeholder in help ("FILE"); for bools "" or "[=false]" (optional fields)
  std::string help;
};

struct CommandSpec {
  Command command;
  std::vector<std::string> words;  // {"ops", "get"}
  std::string args;                // positional arguments in the usage line
  int min_args = 0;
  int max_args = 0;
  std::string summary;      // one line
  std::string usage;        // flags part of the usage line
  std::string description;  // paragraphs
  std::vector<FlagSpec> flags;
};

const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"orchestrator", FlagType::kString, "ADDRESS",
       "unix:/path or host:port (default: $KMSCTL_ORCHESTRATOR, else " + std::string(kDefaultAddress) + ")"},
      {"json", FlagType::kBool, "", "print proto3 JSON on stdout (one document per line) instead of text"},
      {"tls", FlagType::kBool, "", "use TLS (implied by the --tls-* files); server verified by the system roots"},
      {"tls-ca", FlagType::kString, "FILE", "PEM CA bundle to verify the orchestrator's certificate"},
      {"tls-cert", FlagType::kString, "FILE", "client certificate (PEM) for mTLS; with --tls-key"},
      {"tls-key", FlagType::kString, "FILE", "client private key (PEM) for mTLS; with --tls-cert"},
      {"tls-server-name", FlagType::kString, "NAME", "expected name in the server certificate"},
      {"token-file", FlagType::kString, "FILE", "bearer token file (sent as 'authorization: Bearer'); needs TLS"},
      {"rpc-timeout", FlagType::kDuration, "DURATION", "deadline of one call (default 30s)"},
  };
  return *flags;
}

std::vector<FlagSpec> MutatingFlags() {
  return {
      {"request-id", FlagType::kString, "ID",
       "idempotency key, 1-128 of [A-Za-z0-9._:-] (default: a fresh UUID, printed on stderr); "
       "retrying with the same id never starts a second operation"},
      {"no-wait", FlagType::kBool, "", "return as soon as the operation is accepted"},
      {"timeout", FlagType::kDuration, "DURATION",
       "stop following the operation after this long (exit 12; it goes on)"},
  };
}

std::vector<FlagSpec> EnvFileFlag(const std::string& what) {
  return {{"env-file", FlagType::kString, "FILE",
           what + " from a .env file (KEY=VALUE lines, as the Phala Cloud SDK parses them); '-' reads "
                  "standard input"}};
}

std::vector<FlagSpec> SignerKeyFlag() {
  return {{"signer-key", FlagType::kString, "ADDRESS",
           "signer key that sends the on-chain transaction (default: the orchestrator's)"}};
}

std::vector<FlagSpec> ComposeFlags() {
  return {
      {"compose", FlagType::kString, "FILE", "docker-compose YAML file ('-' = standard input)"},
      {"pre-launch-script", FlagType::kString, "FILE", "shell script run before the containers start"},
      {"app-name", FlagType::kString, "NAME", "app name inside the compose (deploy default: --name)"},
      {"allowed-env", FlagType::kList, "KEY,...", "env var names the CVM accepts (repeatable)"},
      {"kms-enabled", FlagType::kBool, "[=false]", "keys derived by the KMS (API default true)"},
      {"gateway-enabled", FlagType::kBool, "[=false]", "expose the app through the dstack gateway (API default true)"},
      {"public-logs", FlagType::kBool, "[=false]", "make container logs public"},
      {"public-sysinfo", FlagType::kBool, "[=false]", "make system information public"},
      {"public-tcbinfo", FlagType::kBool, "[=false]", "make the TCB info public"},
      {"local-key-provider", FlagType::kBool, "[=false]", "use a local key provider instead of the KMS"},
      {"key-provider-id", FlagType::kString, "ID", "key provider id (with --local-key-provider)"},
      {"no-instance-id", FlagType::kBool, "[=false]", "do not bind the app's keys to the instance id"},
      {"secure-time", FlagType::kBool, "[=false]", "require a secure time source before start"},
      {"storage-fs", FlagType::kString, "ext4|zfs", "file system of the data disk"},
      {"feature", FlagType::kList, "NAME,...", "legacy feature flags (manifest version 1; repeatable)"},
      {"manifest-version", FlagType::kUint, "N", "app-compose manifest version (API default 2)"},
      {"runner", FlagType::kString, "NAME", "runner (default docker-compose)"},
  };
}

template <typename... Lists>
std::vector<FlagSpec> Concat(Lists... lists) {
  std::vector<FlagSpec> out;
  (out.insert(out.end(), lists.begin(), lists.end()), ...);
  return out;
}

const std::vector<CommandSpec>& Commands() {
  static const auto* commands = new std::vector<CommandSpec>{
      {Command::kKmsList,
       {"kms", "list"},
       "",
       0,
       0,
       "list the KMS instances the Phala Cloud account can use",
       "[--type=TYPE] [--chain-id=N] [--onchain]",
       "Lists the KMS instances (all pages of the API's GET /kms), filtered; the filters combine\n"
       "with AND. TYPE is the kind of KMS as the orchestrator's config maps chains to it.",
       {
           {"type", FlagType::kString, "phala|ethereum|base", "only this KMS type"},
           {"chain-id", FlagType::kUint, "N", "only this chain id"},
           {"onchain", FlagType::kBool, "", "only on-chain KMS instances"},
       }},
      {Command::kDeploy,
       {"deploy"},
       "",
       0,
       0,
       "deploy a new CVM (on an on-chain KMS: with its AppAuth contract)",
       "--name=NAME --compose=FILE --kms=TYPE [--env-file=FILE|-] [flags]",
       "Starts a DEPLOY_CVM operation and follows it: provision, deploy the app's AppAuth\n"
       "contract through the KMS factory (on-chain KMS, signed by the signer), fetch the app's\n"
       "env-encryption key, encrypt the env vars, commit. Env values are encrypted to the app's\n"
       "key inside the orchestrator and are never printed.",
       Concat(
           std::vector<FlagSpec>{
               {"name", FlagType::kString, "NAME",
                "CVM name: 5-63 characters, a letter first, letters/digits/hyphens (required)"},
               {"kms", FlagType::kString, "phala|ethereum|base", "KMS type (required)"},
               {"kms-id", FlagType::kString, "ID", "a specific KMS instance (see 'kmsctl kms list')"},
               {"kms-contract", FlagType::kString, "ADDRESS", "the DstackKms contract to use"},
               {"instance-type", FlagType::kString, "TYPE", "e.g. tdx.small (the API's default)"},
               {"vcpu", FlagType::kUint, "N", "vCPUs (default: from the instance type)"},
               {"memory-mb", FlagType::kUint, "N", "memory in MB (default: from the instance type)"},
               {"disk-size-gb", FlagType::kUint, "N", "data disk size in GB"},
               {"image", FlagType::kString, "NAME", "OS image, e.g. dstack-0.5.3"},
               {"node-id", FlagType::kUint, "N", "node (TEE host) to place the CVM on"},
               {"region", FlagType::kString, "REGION", "region preference, e.g. us-west"},
               {"listed", FlagType::kBool, "[=false]", "list the CVM publicly"},
           },
           EnvFileFlag("env vars"), ComposeFlags(), SignerKeyFlag(),
           std::vector<FlagSpec>{
               {"app-owner", FlagType::kString, "ADDRESS", "owner of the AppAuth contract (default: the signer key)"},
               {"device-id", FlagType::kString, "HEX32", "device id allowed by the contract (default: the provisioned one)"},
               {"allow-any-device", FlagType::kBool, "", "let the app boot on any device"},
               {"disable-upgrades", FlagType::kBool, "", "make the AppAuth contract non-upgradeable"},
               {"require-tcb-up-to-date", FlagType::kBool, "[=false]",
                "set requireTcbUpToDate (uses the factory's 6-argument overload)"},
               {"nonce", FlagType::kUint, "N", "PHALA KMS: the API's nonce, for a deterministic app id"},
               {"app-id", FlagType::kString, "HEX20", "PHALA KMS: the app id matching --nonce"},
           },
           MutatingFlags())},
      {Command::kEnvsUpdate,
       {"envs", "update"},
       "CVM",
       1,
       1,
       "replace a CVM's env vars",
       "CVM --env-file=FILE|- [--signer-key=ADDRESS]",
       "Starts an UPDATE_ENV_VARS operation and follows it. The file holds the complete new set\n"
       "(use /dev/null to remove them all). Same keys: one call. Changed keys: the compose hash\n"
       "changes, so on an on-chain KMS it is registered on chain first (two-phase). CVM is the\n"
       "CVM id, app id, instance id or name.",
       Concat(EnvFileFlag("the new env vars (required)"), SignerKeyFlag(), MutatingFlags())},
      {Command::kComposeUpdate,
       {"compose", "update"},
       "CVM",
       1,
       1,
       "replace a CVM's docker-compose file",
       "CVM --compose=FILE|- [--signer-key=ADDRESS]",
       "Starts an UPDATE_DOCKER_COMPOSE operation and follows it; on an on-chain KMS the new\n"
       "compose hash is registered on chain first (two-phase).",
       Concat(std::vector<FlagSpec>{{"compose", FlagType::kString, "FILE",
                                     "the new docker-compose YAML ('-' = standard input; required)"}},
              SignerKeyFlag(), MutatingFlags())},
      {Command::kComposeFileUpdate,
       {"compose-file", "update"},
       "CVM",
       1,
       1,
       "change fields of a CVM's app compose (the compose-file API)",
       "CVM [compose flags] [--update-mask=FIELD,...] [--env-file=FILE|-]",
       "Starts an UPDATE_COMPOSE_FILE operation and follows it: get the app compose, apply the\n"
       "changes, provision the update, register the new hash on chain unless it is already,\n"
       "commit. Without --update-mask, every compose flag given replaces its field; with it,\n"
       "exactly the listed AppCompose fields (proto names, e.g. docker_compose_file,\n"
       "allowed_envs) are replaced, and a listed field without a flag is cleared. --env-file also\n"
       "replaces the env vars in the same commit.",
       Concat(ComposeFlags(),
              std::vector<FlagSpec>{{"update-mask", FlagType::kList, "FIELD,...",
                                     "AppCompose fields to replace (repeatable)"}},
              EnvFileFlag("also replace the env vars"), SignerKeyFlag(), MutatingFlags())},
      {Command::kComposeHashAdd,
       {"compose-hash", "add"},
       "HASH",
       1,
       1,
       "allow a compose hash on an app's contract (addComposeHash)",
       "HASH (--cvm=CVM | --chain-id=N --app-contract=ADDRESS) [--signer-key=ADDRESS]",
       "Starts an ADD_COMPOSE_HASH operation and follows it. If the hash is already allowed, the\n"
       "earlier registration is reported and nothing is sent. HASH is 64 hex digits, 0x optional.",
       Concat(std::vector<FlagSpec>{
                  {"cvm", FlagType::kString, "CVM", "the app of this CVM"},
                  {"chain-id", FlagType::kUint, "N", "chain of the app contract (with --app-contract)"},
                  {"app-contract", FlagType::kString, "ADDRESS", "the app's DstackApp contract"},
              },
              SignerKeyFlag(), MutatingFlags())},
      {Command::kOpsList,
       {"ops", "list"},
       "",
       0,
       0,
       "list operations, newest first",
       "[--kind=KIND] [--state=STATE] [--cvm=CVM] [--page-size=N] [--page-token=T | --all]",
       "KIND: deploy-cvm, update-env-vars, update-docker-compose, update-compose-file,\n"
       "add-compose-hash. STATE: pending, running, waiting-for-input, succeeded, failed,\n"
       "cancelled.",
       {
           {"kind", FlagType::kString, "KIND", "only this kind"},
           {"state", FlagType::kString, "STATE", "only this state"},
           {"cvm", FlagType::kString, "CVM", "only operations on this CVM id"},
           {"page-size", FlagType::kUint, "N", "operations per page (default 50, at most 500)"},
           {"page-token", FlagType::kString, "TOKEN", "the next page of an earlier listing"},
           {"all", FlagType::kBool, "", "fetch every page"},
       }},
      {Command::kOpsGet,
       {"ops", "get"},
       "OPERATION",
       1,
       1,
       "show an operation",
       "OPERATION",
       "Prints the operation: state, steps with their transactions, result or error.",
       {}},
      {Command::kOpsWatch,
       {"ops", "watch"},
       "OPERATION",
       1,
       1,
       "follow an operation's progress until it ends",
       "OPERATION [--timeout=DURATION]",
       "Streams the operation's step events (WatchOperation) and reconnects if the orchestrator\n"
       "restarts. Exits with the operation's outcome: 0 succeeded, 5 failed, 10 cancelled,\n"
       "11 waiting for input. With --json: one OperationEvent per line.",
       {{"timeout", FlagType::kDuration, "DURATION", "stop following after this long (exit 12)"}}},
      {Command::kOpsCancel,
       {"ops", "cancel"},
       "OPERATION",
       1,
       1,
       "cancel an operation where that is safe",
       "OPERATION",
       "Cancels an operation before any on-chain transaction or the Phala Cloud commit was sent;\n"
       "afterwards the orchestrator refuses (exit 8) and the operation goes on.",
       {}},
      {Command::kOpsSupplyEnvs,
       {"ops", "supply-envs"},
       "OPERATION",
       1,
       1,
       "send the env values an operation waits for",
       "OPERATION --env-file=FILE|-",
       "An operation is WAITING_FOR_INPUT when the orchestrator restarted after accepting env\n"
       "values but before encrypting them (they are never written to disk). Send them again, with\n"
       "exactly the keys 'kmsctl ops get' lists, then follow the operation.",
       Concat(EnvFileFlag("the env vars (required)"), MutatingFlags())},
  };
  return *commands;
}

// ---------------------------------------------------------------------------------------------
// Help texts

std::string FlagLines(const std::vector<FlagSpec>& flags) {
  std::string out;
  for (const FlagSpec& f : flags) {
    std::string left = "  --" + f.name;
    if (!f.value.empty()) absl::StrAppend(&left, f.type == FlagType::kBool ? "" : "=", f.value);
    if (left.size() < 32) {
      absl::StrAppendFormat(&out, "%-32s%s\n", left, f.help);
    } else {
      absl::StrAppend(&out, left, "\n", std::string(32, ' '), f.help, "\n");
    }
  }
  return out;
}

std::string Name(const CommandSpec& c) { return absl::StrJoin(c.words, " "); }

std::string CommandHelp(const CommandSpec& c) {
  std::string out = absl::StrCat("kmsctl ", Name(c), ": ", c.summary, "\n\nUsage: kmsctl ", Name(c));
  if (!c.usage.empty()) absl::StrAppend(&out, " ", c.usage);
  absl::StrAppend(&out, "\n\n", c.description, "\n");
  if (!c.flags.empty()) absl::StrAppend(&out, "\nFlags:\n", FlagLines(c.flags));
  absl::StrAppend(&out, "\nGlobal flags:\n", FlagLines(GlobalFlags()),
                  "\nExit codes: see 'kmsctl --help'.\n");
  return out;
}

std::string GroupHelp(const std::string& group) {
  std::string out = absl::StrCat("Usage: kmsctl ", group, " <subcommand> [flags]\n\nSubcommands:\n");
  for (const CommandSpec& c : Commands()) {
    if (c.words.size() == 2 && c.words[0] == group) {
      absl::StrAppendFormat(&out, "  %-28s%s\n", Name(c), c.summary);
    }
  }
  absl::StrAppend(&out, "\n'kmsctl ", group, " <subcommand> --help' for its flags.\n");
  return out;
}

bool IsGroup(const std::string& word) {
  return std::any_of(Commands().begin(), Commands().end(),
                     [&](const CommandSpec& c) { return c.words.size() == 2 && c.words[0] == word; });
}

// ---------------------------------------------------------------------------------------------
// Parsing

std::string NormalizeFlagName(absl::string_view name) { return absl::StrReplaceAll(name, {{"_", "-"}}); }

const FlagSpec* FindFlag(const std::vector<FlagSpec>& flags, const std::string& name) {
  for (const FlagSpec& f : flags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

struct Values {
  std::map<std::string, std::vector<std::string>> flags;
  std::vector<std::string> args;
};

std::optional<bool> ParseBool(absl::string_view v) {
  const std::string s = absl::AsciiStrToLower(v);
  if (s == "true" || s == "1" || s == "yes") return true;
  if (s == "false" || s == "0" || s == "no") return false;
  return std::nullopt;
}

CliError Usage(std::string message) { return CliError{kExitUsage, std::move(message)}; }

bool ValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' || c == '-';
  });
}

// Parses an enum value given as its short name ("base", "deploy-cvm") or its full name
// ("KMS_TYPE_BASE"), case-insensitively. UNSPECIFIED (0) is never accepted.
template <typename E>
std::optional<E> ParseEnum(const google::protobuf::EnumDescriptor* d, absl::string_view prefix,
                           absl::string_view text) {
  const std::string wanted = absl::AsciiStrToUpper(absl::StrReplaceAll(text, {{"-", "_"}}));
  for (int i = 0; i < d->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* v = d->value(i);
    if (v->number() == 0) continue;
    absl::string_view full = v->name();
    absl::string_view short_name = full;
    absl::ConsumePrefix(&short_name, prefix);
    if (wanted == full || wanted == short_name) return static_cast<E>(v->number());
  }
  return std::nullopt;
}

template <typename E>
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

// Typed access to the flag values of one command; remembers the first error.
class Reader {
 public:
  Reader(const Values& values, Io& io) : values_(values), io_(io) {}

  bool Has(const std::string& name) const { return values_.flags.count(name) > 0; }

  std::string Str(const std::string& name) const {
    auto it = values_.flags.find(name);
    return it == values_.flags.end() ? "" : it->second.back();
  }

  // Bool flags hold "true"/"false" (checked while parsing).
  std::optional<bool> Bool(const std::string& name) const {
    if (!Has(name)) return std::nullopt;
    return Str(name) == "true";
  }
  bool Flag(const std::string& name) const { return Bool(name).value_or(false); }

  std::optional<uint64_t> Uint(const std::string& name, uint64_t max = UINT64_MAX) {
    if (!Has(name)) return std::nullopt;
    uint64_t v = 0;
    if (!absl::SimpleAtoi(Str(name), &v) || v > max) {
      Fail(Usage(absl::StrCat("--", name, ": not a number in 0..", max, ": '", Str(name), "'")));
      return std::nullopt;
    }
    return v;
  }

  std::vector<std::string> List(const std::string& name) const {
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

  // The content of the file the flag names ('-' = stdin, at most once per command line).
  std::optional<std::string> File(const std::string& name) {
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
      Fail(CliError{kExitInvalidArgument,
                    absl::StrCat("--", name, ": cannot read ", path == "-" ? "standard input" : path, ": ",
                                 content.status().message())});
      return std::nullopt;
    }
    return *std::move(content);
  }

  // The env vars of the file the flag names, parsed as the Phala Cloud SDK does (strictly: a line
  // the SDK would silently drop is an error). Values never appear in errors.
  std::optional<std::vector<v1::EnvVar>> EnvFile(const std::string& name) {
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

  void Fail(CliError e) {
    if (!error_.has_value()) error_ = std::move(e);
  }
  const std::optional<CliError>& error() const { return error_; }

 private:
  const Values& values_;
  Io& io_;
  std::optional<std::string> stdin_used_by_;
  std::optional<CliError> error_;
};

// ---------------------------------------------------------------------------------------------
// Building the requests

void ReadCompose(Reader& r, v1::AppCompose* c) {
  if (auto v = r.File("compose")) c->set_docker_compose_file(*v);
  if (auto v = r.File("pre-launch-script")) c->set_pre_launch_script(*v);
  if (r.Has("app-name")) c->set_name(r.Str("app-name"));
  for (const std::string& k : r.List("allowed-env")) c->add_allowed_envs(k);
  if (auto v = r.Bool("kms-enabled")) c->set_kms_enabled(*v);
  if (auto v = r.Bool("gateway-enabled")) c->set_gateway_enabled(*v);
  if (auto v = r.Bool("public-logs")) c->set_public_logs(*v);
  if (auto v = r.Bool("public-sysinfo")) c->set_public_sysinfo(*v);
  if (auto v = r.Bool("public-tcbinfo")) c->set_public_tcbinfo(*v);
  if (auto v = r.Bool("local-key-provider")) c->set_local_key_provider_enabled(*v);
  if (r.Has("key-provider-id")) c->set_key_provider_id(r.Str("key-provider-id"));
  if (auto v = r.Bool("no-instance-id")) c->set_no_instance_id(*v);
  if (auto v = r.Bool("secure-time")) c->set_secure_time(*v);
  if (r.Has("storage-fs")) {
    auto fs = ParseEnum<v1::StorageFs>(v1::StorageFs_descriptor(), "STORAGE_FS_", r.Str("storage-fs"));
    if (!fs.has_value()) {
      r.Fail(Usage(absl::StrCat("--storage-fs: '", r.Str("storage-fs"), "' is not one of ",
                                EnumChoices<v1::StorageFs>(v1::StorageFs_descriptor(), "STORAGE_FS_"))));
    } else {
      c->set_storage_fs(*fs);
    }
  }
  for (const std::string& f : r.List("feature")) c->add_features(f);
  if (auto v = r.Uint("manifest-version", UINT32_MAX)) c->set_manifest_version(static_cast<uint32_t>(*v));
  if (r.Has("runner")) c->set_runner(r.Str("runner"));
}

std::optional<v1::KmsType> KmsTypeFlag(Reader& r, const std::string& name) {
  auto t = ParseEnum<v1::KmsType>(v1::KmsType_descriptor(), "KMS_TYPE_", r.Str(name));
  if (!t.has_value()) {
    r.Fail(Usage(absl::StrCat("--", name, ": '", r.Str(name), "' is not one of ",
                              EnumChoices<v1::KmsType>(v1::KmsType_descriptor(), "KMS_TYPE_"))));
  }
  return t;
}

void Require(Reader& r, const CommandSpec& spec, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (!r.Has(n)) r.Fail(Usage(absl::StrCat("kmsctl ", Name(spec), ": --", n, " is required")));
  }
}

template <typename Request>
void SetEnvVars(const std::vector<v1::EnvVar>& vars, Request* request) {
  for (const v1::EnvVar& v : vars) *request->add_env_vars() = v;
}

void BuildRequest(const CommandSpec& spec, const Values& values, Reader& r, Invocation* inv) {
  const std::string arg0 = values.args.empty() ? "" : values.args[0];
  switch (spec.command) {
    case Command::kHelp:
      break;
    case Command::kKmsList: {
      if (r.Has("type")) {
        if (auto t = KmsTypeFlag(r, "type")) inv->kms_list.set_kms_type(*t);
      }
      if (auto v = r.Uint("chain-id")) inv->kms_list.set_chain_id(*v);
      inv->kms_list.set_onchain_only(r.Flag("onchain"));
      break;
    }
    case Command::kDeploy: {
      Require(r, spec, {"name", "compose", "kms"});
      if (r.error()) return;
      v1::DeployCvmRequest& d = inv->deploy;
      d.set_name(r.Str("name"));
      if (auto t = KmsTypeFlag(r, "kms")) d.set_kms_type(*t);
      d.set_kms_id(r.Str("kms-id"));
      d.set_kms_contract_address(r.Str("kms-contract"));
      d.set_instance_type(r.Str("instance-type"));
      if (auto v = r.Uint("vcpu", UINT32_MAX)) d.set_vcpu(static_cast<uint32_t>(*v));
      if (auto v = r.Uint("memory-mb", UINT32_MAX)) d.set_memory_mb(static_cast<uint32_t>(*v));
      if (auto v = r.Uint("disk-size-gb", UINT32_MAX)) d.set_disk_size_gb(static_cast<uint32_t>(*v));
      d.set_image(r.Str("image"));
      if (auto v = r.Uint("node-id")) d.set_node_id(*v);
      d.set_region(r.Str("region"));
      if (auto v = r.Bool("listed")) d.set_listed(*v);
      ReadCompose(r, d.mutable_compose());
      d.set_signer_key_address(r.Str("signer-key"));
      d.set_app_owner_address(r.Str("app-owner"));
      d.set_device_id(r.Str("device-id"));
      d.set_allow_any_device(r.Flag("allow-any-device"));
      d.set_disable_upgrades(r.Flag("disable-upgrades"));
      if (auto v = r.Bool("require-tcb-up-to-date")) d.set_require_tcb_up_to_date(*v);
      if (auto v = r.Uint("nonce")) d.set_nonce(*v);
      d.set_app_id(r.Str("app-id"));
      if (r.Has("env-file")) {
        inv->env_vars = r.EnvFile("env-file");
        if (inv->env_vars) SetEnvVars(*inv->env_vars, &d);
      }
      d.set_request_id(inv->request_id);
      break;
    }
    case Command::kEnvsUpdate: {
      Require(r, spec, {"env-file"});
      if (r.error()) return;
      v1::UpdateEnvVarsRequest& u = inv->envs_update;
      u.set_cvm_id(arg0);
      inv->env_vars = r.EnvFile("env-file");
      if (inv->env_vars) SetEnvVars(*inv->env_vars, &u);
      u.set_signer_key_address(r.Str("signer-key"));
      u.set_request_id(inv->request_id);
      break;
    }
    case Command::kComposeUpdate: {
      Require(r, spec, {"compose"});
      if (r.error()) return;
      v1::UpdateDockerComposeRequest& u = inv->compose_update;
      u.set_cvm_id(arg0);
      if (auto v = r.File("compose")) u.set_docker_compose_file(*v);
      u.set_signer_key_address(r.Str("signer-key"));
      u.set_request_id(inv->request_id);
      break;
    }
    case Command::kComposeFileUpdate: {
      v1::UpdateComposeFileRequest& u = inv->compose_file_update;
      u.set_cvm_id(arg0);
      ReadCompose(r, u.mutable_compose());
      for (const std::string& field : r.List("update-mask")) {
        if (v1::AppCompose::descriptor()->FindFieldByName(field) == nullptr) {
          r.Fail(Usage(absl::StrCat("--update-mask: '", field, "' is not a field of AppCompose")));
        }
        u.mutable_update_mask()->add_paths(field);
      }
      if (r.Has("env-file")) {
        u.set_update_env_vars(true);
        inv->env_vars = r.EnvFile("env-file");
        if (inv->env_vars) SetEnvVars(*inv->env_vars, &u);
      }
      if (!r.error() && u.update_mask().paths().empty() && !u.update_env_vars() &&
          u.compose().ByteSizeLong() == 0) {
        r.Fail(Usage("kmsctl compose-file update: nothing to change (give compose flags, --update-mask or "
                     "--env-file)"));
      }
      u.set_signer_key_address(r.Str("signer-key"));
      u.set_request_id(inv->request_id);
      break;
    }
    case Command::kComposeHashAdd: {
      v1::AddComposeHashRequest& a = inv->compose_hash_add;
      a.set_compose_hash(arg0);
      const bool by_cvm = r.Has("cvm");
      const bool by_app = r.Has("chain-id") || r.Has("app-contract");
      if (by_cvm == by_app) {
        r.Fail(Usage("kmsctl compose-hash add: give either --cvm or --chain-id with --app-contract"));
        return;
      }
      if (by_cvm) {
        a.set_cvm_id(r.Str("cvm"));
      } else {
        Require(r, spec, {"chain-id", "app-contract"});
        if (auto v = r.Uint("chain-id")) a.mutable_app()->set_chain_id(*v);
        a.mutable_app()->set_app_contract_address(r.Str("app-contract"));
      }
      a.set_signer_key_address(r.Str("signer-key"));
      a.set_request_id(inv->request_id);
      break;
    }
    case Command::kOpsList: {
      v1::ListOperationsRequest& l = inv->ops_list;
      if (r.Has("kind")) {
        auto k = ParseEnum<v1::OperationKind>(v1::OperationKind_descriptor(), "OPERATION_KIND_", r.Str("kind"));
        if (!k) {
          r.Fail(Usage(absl::StrCat("--kind: '", r.Str("kind"), "' is not one of ",
                                    EnumChoices<v1::OperationKind>(v1::OperationKind_descriptor(), "OPERATION_KIND_"))));
        } else {
          l.set_kind(*k);
        }
      }
      if (r.Has("state")) {
        auto s = ParseEnum<v1::OperationState>(v1::OperationState_descriptor(), "OPERATION_STATE_", r.Str("state"));
        if (!s) {
          r.Fail(Usage(absl::StrCat("--state: '", r.Str("state"), "' is not one of ",
                                    EnumChoices<v1::OperationState>(v1::OperationState_descriptor(), "OPERATION_STATE_"))));
        } else {
          l.set_state(*s);
        }
      }
      l.set_cvm_id(r.Str("cvm"));
      if (auto v = r.Uint("page-size", UINT32_MAX)) l.set_page_size(static_cast<uint32_t>(*v));
      l.set_page_token(r.Str("page-token"));
      inv->ops_list_all = r.Flag("all");
      if (inv->ops_list_all && r.Has("page-token")) r.Fail(Usage("--all and --page-token exclude each other"));
      break;
    }
    case Command::kOpsGet:
    case Command::kOpsWatch:
    case Command::kOpsCancel:
      inv->operation_id = arg0;
      break;
    case Command::kOpsSupplyEnvs: {
      Require(r, spec, {"env-file"});
      if (r.error()) return;
      inv->operation_id = arg0;
      inv->supply_envs.set_operation_id(arg0);
      inv->env_vars = r.EnvFile("env-file");
      if (inv->env_vars) SetEnvVars(*inv->env_vars, &inv->supply_envs);
      inv->supply_envs.set_request_id(inv->request_id);
      break;
    }
  }
}

std::optional<CliError> BuildConnection(const Reader& r, Io& io, Connection* c) {
  if (r.Has("orchestrator")) {
    c->address = r.Str("orchestrator");
  } else if (std::optional<std::string> env = io.Getenv(kAddressEnv); env.has_value() && !env->empty()) {
    c->address = *env;
  } else {
    c->address = kDefaultAddress;
  }
  if (c->address.empty()) return Usage("--orchestrator: empty address");
  c->tls_ca_file = r.Str("tls-ca");
  c->tls_cert_file = r.Str("tls-cert");
  c->tls_key_file = r.Str("tls-key");
  c->tls_server_name = r.Str("tls-server-name");
  c->token_file = r.Str("token-file");
  c->tls = r.Flag("tls") || !c->tls_ca_file.empty() || !c->tls_cert_file.empty() || !c->tls_key_file.empty() ||
           !c->tls_server_name.empty();
  if (c->tls_cert_file.empty() != c->tls_key_file.empty()) {
    return Usage("--tls-cert and --tls-key go together");
  }
  if (!c->token_file.empty() && !c->tls) {
    return Usage("--token-file needs TLS (--tls or --tls-ca): a bearer token is never sent in plaintext");
  }
  if (c->tls && absl::StartsWith(c->address, "unix:")) {
    return Usage("TLS flags apply to a host:port address, not a Unix socket");
  }
  return std::nullopt;
}

const CommandSpec* FindCommand(const std::vector<std::string>& words) {
  for (const CommandSpec& c : Commands()) {
    if (c.words == words) return &c;
  }
  return nullptr;
}

bool IsCommandPrefix(const std::vector<std::string>& words) {
  return std::any_of(Commands().begin(), Commands().end(), [&](const CommandSpec& c) {
    return c.words.size() > words.size() && std::equal(words.begin(), words.end(), c.words.begin());
  });
}

Invocation HelpInvocation(std::string text) {
  Invocation inv;
  inv.command = Command::kHelp;
  inv.help_text = std::move(text);
  return inv;
}

// Help for `words` (what follows "help", or the command words before --help).
std::variant<Invocation, CliError> HelpFor(const std::vector<std::string>& words) {
  if (words.empty()) return HelpInvocation(TopLevelHelp());
  if (const CommandSpec* c = FindCommand(words)) return HelpInvocation(CommandHelp(*c));
  if (words.size() == 1 && IsGroup(words[0])) return HelpInvocation(GroupHelp(words[0]));
  return Usage(absl::StrCat("unknown command '", absl::StrJoin(words, " "), "' (see 'kmsctl --help')"));
}

class SystemIoImpl final : public Io {
 public:
  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(std::strerror(errno));
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) return absl::DataLossError("read error");
    return s.str();
  }
  absl::StatusOr<std::string> ReadStdin() override {
    std::string out;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(0, buf, sizeof buf);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::DataLossError(std::strerror(errno));
      }
      out.append(buf, static_cast<size_t>(n));
    }
    std::fill(std::begin(buf), std::end(buf), '\0');
    return out;
  }
  std::optional<std::string> Getenv(const std::string& name) override {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  }
  std::string NewRequestId() override {
    std::random_device rd;  // /dev/urandom
    uint8_t b[16];
    for (int i = 0; i < 16; i += 4) {
      const uint32_t w = rd();
      std::memcpy(b + i, &w, 4);
    }
    b[6] = (b[6] & 0x0f) | 0x40;  // version 4
    b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
    const std::string h = chain::ToHex(b, false);
    return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-", h.substr(16, 4), "-", h.substr(20));
  }
};

}  // namespace

bool IsMutating(Command command) {
  switch (command) {
    case Command::kDeploy:
    case Command::kEnvsUpdate:
    case Command::kComposeUpdate:
    case Command::kComposeFileUpdate:
    case Command::kComposeHashAdd:
    case Command::kOpsSupplyEnvs:
      return true;
    default:
      return false;
  }
}

Io& SystemIo() {
  static SystemIoImpl* io = new SystemIoImpl();
  return *io;
}

std::string TopLevelHelp() {
  std::string out =
      "kmsctl: deploy and update Phala Cloud CVMs governed by an on-chain KMS, through the\n"
      "onchain-kms orchestrator (gRPC).\n\n"
      "Usage: kmsctl [global flags] <command> [flags] [args]\n\nCommands:\n";
  for (const CommandSpec& c : Commands()) absl::StrAppendFormat(&out, "  %-24s%s\n", Name(c), c.summary);
  absl::StrAppend(
      &out, "\nGlobal flags:\n", FlagLines(GlobalFlags()),
      "\nCommands that start an operation follow it to its end, printing each step (with --json:\n"
      "only the final Operation). They take --request-id=ID (default: a fresh one, printed on\n"
      "stderr; retrying with it never starts a second operation), --no-wait and --timeout.\n"
      "Env var values come from --env-file=FILE or --env-file=- (stdin), never from the command\n"
      "line, and are never printed.\n\n"
      "Exit codes:\n"
      "  0    done (operation succeeded; or accepted, with --no-wait)\n"
      "  1    other error (internal, unimplemented, ...)\n"
      "  2    usage: bad command line\n"
      "  3    invalid argument: the orchestrator rejected the request, or an input file is bad\n"
      "  4    not found\n"
      "  5    the operation failed\n"
      "  6    unavailable: cannot reach the orchestrator; retry with the same --request-id\n"
      "  7    the --request-id is taken by a different request\n"
      "  8    failed precondition (e.g. too late to cancel)\n"
      "  9    unauthenticated or permission denied\n"
      "  10   the operation was cancelled\n"
      "  11   the operation waits for env values ('kmsctl ops supply-envs')\n"
      "  12   timed out following the operation (it goes on)\n"
      "  130  interrupted (Ctrl-C); a started operation goes on\n\n"
      "'kmsctl <command> --help' for a command's flags.\n");
  return out;
}

std::variant<Invocation, CliError> ParseCommandLine(const std::vector<std::string>& args, Io& io) {
  std::vector<std::string> words;
  const CommandSpec* spec = nullptr;
  Values values;
  bool help = false;
  bool flags_ended = false;

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& tok = args[i];
    if (!flags_ended && tok == "--") {
      flags_ended = true;
      continue;
    }
    if (!flags_ended && (tok == "-h" || tok == "--help" || tok == "-help")) {
      help = true;
      continue;
    }
    if (!flags_ended && absl::StartsWith(tok, "-") && tok != "-") {
      if (!absl::StartsWith(tok, "--")) return Usage(absl::StrCat("unknown flag '", tok, "' (flags start with --)"));
      absl::string_view body = absl::string_view(tok).substr(2);
      std::optional<std::string> value;
      if (size_t eq = body.find('='); eq != absl::string_view::npos) {
        value = std::string(body.substr(eq + 1));
        body = body.substr(0, eq);
      }
      const std::string name = NormalizeFlagName(body);
      const FlagSpec* f = FindFlag(GlobalFlags(), name);
      if (f == nullptr && spec != nullptr) f = FindFlag(spec->flags, name);
      if (f == nullptr) {
        if (spec == nullptr) {
          return Usage(absl::StrCat("unknown flag --", name,
                                    words.empty() ? " (command flags go after the command)" : ""));
        }
        return Usage(absl::StrCat("unknown flag --", name, " for 'kmsctl ", Name(*spec), "' (see 'kmsctl ",
                                  Name(*spec), " --help')"));
      }
      if (f->type == FlagType::kBool) {
        if (!value.has_value()) value = "true";
        std::optional<bool> b = ParseBool(*value);
        if (!b.has_value()) return Usage(absl::StrCat("--", name, ": expected true or false, got '", *value, "'"));
        value = *b ? "true" : "false";
      } else if (!value.has_value()) {
        if (i + 1 >= args.size()) return Usage(absl::StrCat("--", name, " needs a value"));
        value = args[++i];
      }
      if (f->type == FlagType::kDuration) {
        absl::Duration d;
        if (!absl::ParseDuration(*value, &d) || d <= absl::ZeroDuration()) {
          return Usage(absl::StrCat("--", name, ": not a positive duration such as 90s or 5m: '", *value, "'"));
        }
      }
      std::vector<std::string>& slot = values.flags[name];
      if (!slot.empty() && f->type != FlagType::kList) return Usage(absl::StrCat("--", name, " given twice"));
      slot.push_back(*value);
      continue;
    }
    if (spec == nullptr && !(!words.empty() && words[0] == "help")) {
      words.push_back(tok);
      if ((spec = FindCommand(words)) != nullptr) continue;
      if (words.size() == 1 && words[0] == "help") continue;
      if (!IsCommandPrefix(words)) {
        return Usage(absl::StrCat("unknown command '", absl::StrJoin(words, " "), "' (see 'kmsctl --help')"));
      }
      continue;
    }
    if (spec == nullptr) {  // after "help"
      words.push_back(tok);
      continue;
    }
    values.args.push_back(tok);
  }

  if (!words.empty() && words[0] == "help") return HelpFor(std::vector<std::string>(words.begin() + 1, words.end()));
  if (help) return HelpFor(words);
  if (words.empty()) return Usage("missing command (see 'kmsctl --help')");
  if (spec == nullptr) {
    return Usage(absl::StrCat("'kmsctl ", absl::StrJoin(words, " "), "' needs a subcommand (see 'kmsctl ",
                              absl::StrJoin(words, " "), " --help')"));
  }
  const int n = static_cast<int>(values.args.size());
  if (n < spec->min_args || n > spec->max_args) {
    if (n < spec->min_args) {
      return Usage(absl::StrCat("kmsctl ", Name(*spec), ": missing ", spec->args, " (usage: kmsctl ", Name(*spec),
                                " ", spec->usage, ")"));
    }
    return Usage(absl::StrCat("kmsctl ", Name(*spec), ": unexpected argument '", values.args[spec->max_args], "'"));
  }
  for (const std::string& a : values.args) {
    if (a.empty()) return Usage(absl::StrCat("kmsctl ", Name(*spec), ": empty ", spec->args));
  }

  Invocation inv;
  inv.command = spec->command;
  Reader r(values, io);
  if (std::optional<CliError> e = BuildConnection(r, io, &inv.connection)) return *e;
  inv.json = r.Flag("json");
  if (r.Has("rpc-timeout")) absl::ParseDuration(r.Str("rpc-timeout"), &inv.rpc_timeout);
  if (r.Has("timeout")) absl::ParseDuration(r.Str("timeout"), &inv.timeout);
  inv.wait = !r.Flag("no-wait");
  if (IsMutating(spec->command)) {
    if (r.Has("request-id")) {
      inv.request_id = r.Str("request-id");
      if (!ValidRequestId(inv.request_id)) {
        return Usage("--request-id: 1-128 characters of letters, digits and . _ : -");
      }
    } else {
      inv.request_id = io.NewRequestId();
      inv.request_id_generated = true;
    }
  }
  BuildRequest(*spec, values, r, &inv);
  if (r.error().has_value()) return *r.error();
  return inv;
}

}  // namespace kmsctl
