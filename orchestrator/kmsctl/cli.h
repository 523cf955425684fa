// kmsctl's command line: the parser that turns argv into the request to send, by the command
// table (commands.h), and the help texts. No I/O except through `Io` (files, stdin, environment, the
// random request id), so that all of it is unit-testable.
//
//   kmsctl [global flags] <command> [<subcommand>] [flags] [args]
//
// Flags are `--name=value` or `--name value` (bool flags: `--name`, `--name=true|false`), before
// or after the command; `_` and `-` in flag names are the same; `--` ends the flags. Env var
// values come from `--env-file=FILE` (`-` = standard input), never from argv.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_CLI_H_
#define ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_CLI_H_

#include <string>
#include <variant>
#include <vector>

#include "orchestrator/kmsctl/invocation.h"

namespace kmsctl {

// The real one: files, fd 0, getenv, a random UUID v4.
Io& SystemIo();

std::variant<Invocation, CliError> ParseCommandLine(const std::vector<std::string>& args, Io& io);

// The top-level help (what `kmsctl --help` prints).
std::string TopLevelHelp();

}  // namespace kmsctl

#endif  // ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_CLI_H_
