#include "orchestrator/kmsctl/cli.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "chain/hex.h"
#include "orchestrator/kmsctl/commands.h"
#include "orchestrator/kmsctl/exit_codes.h"
#include "orchestrator/kmsctl/flag_reader.h"

namespace kmsctl {
namespace {

// ---------------------------------------------------------------------------------------------
// Help texts

std::string FlagLines(const std::vector<FlagSpec>& flags) {
  std::string out;
  for (const FlagSpec& f : flags) {
    std::string left = "  --" + f.name;
    const bool optional_value = f.type == FlagType::kBool || f.type == FlagType::kOptionalDuration;
    if (!f.value.empty()) absl::StrAppend(&left, optional_value ? "" : "=", f.value);
    if (left.size() < 32) {
      absl::StrAppendFormat(&out, "%-32s%s\n", left, f.help);
    } else {
      absl::StrAppend(&out, left, "\n", std::string(32, ' '), f.help, "\n");
    }
  }
  return out;
}

std::string CommandHelp(const CommandSpec& c) {
  std::string out = absl::StrCat("kmsctl ", c.name(), ": ", c.summary, "\n\nUsage: kmsctl ", c.name());
  if (!c.usage.empty()) absl::StrAppend(&out, " ", c.usage);
  absl::StrAppend(&out, "\n\n", c.description, "\n");
  if (!c.flags.empty()) absl::StrAppend(&out, "\nFlags:\n", FlagLines(c.flags));
  absl::StrAppend(&out, "\nGlobal flags:\n", FlagLines(GlobalFlags()), "\nExit codes: see 'kmsctl --help'.\n");
  return out;
}

// A command word sequence that only starts commands ("ops", "app devices").
bool InGroup(const CommandSpec& c, const std::vector<std::string>& group) {
  return c.words.size() > group.size() && std::equal(group.begin(), group.end(), c.words.begin());
}

std::string GroupHelp(const std::vector<std::string>& words) {
  const std::string group = absl::StrJoin(words, " ");
  std::string out = absl::StrCat("Usage: kmsctl ", group, " <subcommand> [flags]\n\nSubcommands:\n");
  for (const CommandSpec& c : Commands()) {
    if (InGroup(c, words)) absl::StrAppendFormat(&out, "  %-28s%s\n", c.name(), c.summary);
  }
  absl::StrAppend(&out, "\n'kmsctl ", group, " <subcommand> --help' for its flags.\n");
  return out;
}

bool IsGroup(const std::vector<std::string>& words) {
  return !words.empty() &&
         std::any_of(Commands().begin(), Commands().end(), [&](const CommandSpec& c) { return InGroup(c, words); });
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

std::optional<bool> ParseBool(absl::string_view v) {
  const std::string s = absl::AsciiStrToLower(v);
  if (s == "true" || s == "1" || s == "yes") return true;
  if (s == "false" || s == "0" || s == "no") return false;
  return std::nullopt;
}

bool ValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' || c == '-';
  });
}

std::optional<CliError> BuildConnection(const FlagReader& r, Io& io, Connection* c) {
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

Invocation HelpInvocation(std::string text) {
  Invocation inv;
  inv.help_text = std::move(text);
  return inv;
}

// Help for `words` (what follows "help", or the command words before --help).
std::variant<Invocation, CliError> HelpFor(const std::vector<std::string>& words) {
  if (words.empty()) return HelpInvocation(TopLevelHelp());
  if (const CommandSpec* c = FindCommand(words)) return HelpInvocation(CommandHelp(*c));
  if (IsGroup(words)) return HelpInvocation(GroupHelp(words));
  return Usage(absl::StrCat("unknown command '", absl::StrJoin(words, " "), "' (see 'kmsctl --help')"));
}

// The command line sorted into command words, flag values and arguments.
struct Tokens {
  std::vector<std::string> words;
  const CommandSpec* spec = nullptr;  // once the words name a command
  FlagValues values;
  bool help = false;
};

bool IsHelpWord(const Tokens& t) { return !t.words.empty() && t.words[0] == "help"; }

// Checks a flag's value against its type and records it.
std::optional<CliError> SetFlag(const FlagSpec& f, const std::string& name, std::string value, FlagValues* values) {
  if (f.type == FlagType::kDuration || (f.type == FlagType::kOptionalDuration && !value.empty())) {
    absl::Duration d;
    if (!absl::ParseDuration(value, &d) || d <= absl::ZeroDuration()) {
      return Usage(absl::StrCat("--", name, ": not a positive duration such as 90s or 5m: '", value, "'"));
    }
  }
  std::vector<std::string>& slot = values->flags[name];
  if (!slot.empty() && f.type != FlagType::kList) return Usage(absl::StrCat("--", name, " given twice"));
  slot.push_back(std::move(value));
  return std::nullopt;
}

// The flag at args[*i] ("--name", "--name=value", or "--name value", which moves *i on).
std::optional<CliError> ParseFlag(const std::vector<std::string>& args, size_t* i, Tokens* t) {
  const std::string& tok = args[*i];
  if (!absl::StartsWith(tok, "--")) return Usage(absl::StrCat("unknown flag '", tok, "' (flags start with --)"));
  absl::string_view body = absl::string_view(tok).substr(2);
  std::optional<std::string> value;
  if (size_t eq = body.find('='); eq != absl::string_view::npos) {
    value = std::string(body.substr(eq + 1));
    body = body.substr(0, eq);
  }
  const std::string name = NormalizeFlagName(body);
  const FlagSpec* f = FindFlag(GlobalFlags(), name);
  if (f == nullptr && t->spec != nullptr) f = FindFlag(t->spec->flags, name);
  if (f == nullptr && t->spec == nullptr) {
    return Usage(
        absl::StrCat("unknown flag --", name, t->words.empty() ? " (command flags go after the command)" : ""));
  }
  if (f == nullptr) {
    return Usage(absl::StrCat("unknown flag --", name, " for 'kmsctl ", t->spec->name(), "' (see 'kmsctl ",
                              t->spec->name(), " --help')"));
  }
  if (f->type == FlagType::kBool) {
    std::optional<bool> b = ParseBool(value.value_or("true"));
    if (!b.has_value()) return Usage(absl::StrCat("--", name, ": expected true or false, got '", *value, "'"));
    value = *b ? "true" : "false";
  } else if (f->type == FlagType::kOptionalDuration) {
    value = value.value_or("");  // never takes the next word
  } else if (!value.has_value()) {
    if (*i + 1 >= args.size()) return Usage(absl::StrCat("--", name, " needs a value"));
    value = args[++*i];
  }
  return SetFlag(*f, name, *std::move(value), &t->values);
}

// A word that is not a flag: part of the command's name, of what follows "help", or an argument.
std::optional<CliError> AddWord(const std::string& tok, Tokens* t) {
  if (t->spec != nullptr) {
    t->values.args.push_back(tok);
    return std::nullopt;
  }
  const bool after_help = IsHelpWord(*t);
  t->words.push_back(tok);
  if (after_help) return std::nullopt;
  if ((t->spec = FindCommand(t->words)) != nullptr) return std::nullopt;
  if (t->words.size() == 1 && t->words[0] == "help") return std::nullopt;
  if (!IsGroup(t->words)) {
    return Usage(absl::StrCat("unknown command '", absl::StrJoin(t->words, " "), "' (see 'kmsctl --help')"));
  }
  return std::nullopt;
}

std::variant<Tokens, CliError> Tokenize(const std::vector<std::string>& args) {
  Tokens t;
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& tok = args[i];
    std::optional<CliError> error;
    if (!flags_ended && tok == "--") {
      flags_ended = true;
    } else if (!flags_ended && (tok == "-h" || tok == "--help" || tok == "-help")) {
      t.help = true;
    } else if (!flags_ended && absl::StartsWith(tok, "-") && tok != "-") {
      error = ParseFlag(args, &i, &t);
    } else {
      error = AddWord(tok, &t);
    }
    if (error.has_value()) return *std::move(error);
  }
  return t;
}

// The number of arguments, and none empty.
std::optional<CliError> CheckArgs(const CommandSpec& spec, const std::vector<std::string>& args) {
  const int n = static_cast<int>(args.size());
  if (n < spec.min_args) {
    return Usage(absl::StrCat("kmsctl ", spec.name(), ": missing ", spec.args, " (usage: kmsctl ", spec.name(), " ",
                              spec.usage, ")"));
  }
  if (n > spec.max_args) {
    return Usage(absl::StrCat("kmsctl ", spec.name(), ": unexpected argument '", args[spec.max_args], "'"));
  }
  for (const std::string& a : args) {
    if (a.empty()) return Usage(absl::StrCat("kmsctl ", spec.name(), ": empty ", spec.args));
  }
  return std::nullopt;
}

// The invocation of a command whose words and arguments are right: global flags, the request id,
// then the command's own builder.
std::variant<Invocation, CliError> BuildInvocation(const CommandSpec& spec, const FlagValues& values, Io& io) {
  Invocation inv;
  inv.command = &spec;
  FlagReader r(&spec, values, io);
  if (std::optional<CliError> e = BuildConnection(r, io, &inv.connection)) return *e;
  inv.json = r.Flag("json");
  if (r.Has("rpc-timeout")) absl::ParseDuration(r.Str("rpc-timeout"), &inv.rpc_timeout);
  if (r.Has("timeout")) absl::ParseDuration(r.Str("timeout"), &inv.timeout);
  inv.wait = !r.Flag("no-wait");
  if (spec.mutating && r.Has("request-id")) {
    inv.request_id = r.Str("request-id");
    if (!ValidRequestId(inv.request_id)) return Usage("--request-id: 1-128 characters of letters, digits and . _ : -");
  } else if (spec.mutating) {
    inv.request_id = io.NewRequestId();
    inv.request_id_generated = true;
  }
  spec.build(r, &inv);
  if (r.error().has_value()) return *r.error();
  return inv;
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
    return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-", h.substr(16, 4), "-",
                        h.substr(20));
  }
};

}  // namespace

Io& SystemIo() {
  static SystemIoImpl* io = new SystemIoImpl();
  return *io;
}

std::string TopLevelHelp() {
  std::string out =
      "kmsctl: deploy and update Phala Cloud CVMs governed by an on-chain KMS, through the\n"
      "onchain-kms orchestrator (gRPC).\n\n"
      "Usage: kmsctl [global flags] <command> [flags] [args]\n\nCommands:\n";
  for (const CommandSpec& c : Commands()) absl::StrAppendFormat(&out, "  %-24s%s\n", c.name(), c.summary);
  absl::StrAppend(&out, "\nGlobal flags:\n", FlagLines(GlobalFlags()),
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
  std::variant<Tokens, CliError> tokenized = Tokenize(args);
  if (CliError* e = std::get_if<CliError>(&tokenized)) return *e;
  const Tokens& t = std::get<Tokens>(tokenized);
  if (IsHelpWord(t)) return HelpFor(std::vector<std::string>(t.words.begin() + 1, t.words.end()));
  if (t.help) return HelpFor(t.words);
  if (t.words.empty()) return Usage("missing command (see 'kmsctl --help')");
  if (t.spec == nullptr) {
    const std::string words = absl::StrJoin(t.words, " ");
    return Usage(absl::StrCat("'kmsctl ", words, "' needs a subcommand (see 'kmsctl ", words, " --help')"));
  }
  if (std::optional<CliError> e = CheckArgs(*t.spec, t.values.args)) return *e;
  return BuildInvocation(*t.spec, t.values, io);
}

}  // namespace kmsctl
