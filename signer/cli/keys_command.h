// `signer keys new | import | list`: managing the keystore directory without a running signer.
//
//   signer keys new    --keystore_dir=DIR (--password_file=F | --password_env=VAR) [--kdf=scrypt|pbkdf2]
//   signer keys import --keystore_dir=DIR (--password_file=F | --password_env=VAR)  < hex-key
//   signer keys list   --keystore_dir=DIR
//
// The raw key for `import` is read from standard input (64 hex digits, "0x" optional, surrounding
// whitespace ignored), never from the command line. New files are geth-style
// UTC--<time>--<address> keystore V3 JSON, mode 0600, written atomically.
#ifndef ONCHAIN_KMS_SIGNER_CLI_KEYS_COMMAND_H_
#define ONCHAIN_KMS_SIGNER_CLI_KEYS_COMMAND_H_

#include <cstdio>
#include <string>
#include <vector>

#include "onchainkms/signer/v1/config.pb.h"
#include "signer/keystore/keystore_v3.h"

namespace signer::cli {

struct KeysOptions {
  std::string keystore_dir;
  onchainkms::signer::v1::PasswordSource password;  // unset: none given
  keystore::EncryptParams encrypt;
  int stdin_fd = 0;
};

// args: what follows "keys" ("new", "import", "list"). Writes results to `out` (one JSON object
// per key), diagnostics to `err`. Exit codes: 0 ok, 1 failure, 2 usage.
int RunKeysCommand(const std::vector<std::string>& args, const KeysOptions& options, std::FILE* out, std::FILE* err);

// `signer audit verify [--expect_head=HASH] FILE`: 0 if the chain verifies, 1 if a record was
// edited, removed or reordered (the line is printed) or, with `expect_head` (the "audit_head" the
// signer logged at start or stop, kept by the operator), no record has that hash (the last
// records were cut), 2 for usage errors, a malformed HASH or an unreadable file. Torn writes and
// start-up repairs do not fail it: each is printed as a "repair:" line after the "ok" line.
int RunAuditCommand(const std::vector<std::string>& args, const std::string& expect_head, std::FILE* out,
                    std::FILE* err);

}  // namespace signer::cli

#endif  // ONCHAIN_KMS_SIGNER_CLI_KEYS_COMMAND_H_
