// The command table: every kmsctl command declared once (command_spec.h), with its flags, help,
// request builder and runner. The parser (cli.h) and the help texts read it; nothing else lists
// the commands.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_COMMANDS_H_
#define ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_COMMANDS_H_

#include <vector>

#include "orchestrator/kmsctl/command_spec.h"

namespace kmsctl {

inline constexpr char kDefaultAddress[] = "unix:/run/onchain-kms/orchestrator.sock";
inline constexpr char kAddressEnv[] = "KMSCTL_ORCHESTRATOR";

// In the order of `kmsctl --help`.
const std::vector<CommandSpec>& Commands();

// The flags every command takes (connection, output).
const std::vector<FlagSpec>& GlobalFlags();

}  // namespace kmsctl

#endif  // ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_COMMANDS_H_
