// The whole `signer` program (main.cc only calls this):
//
//   signer --config=FILE [flags]          serve (default)
//   signer keys new|import|list [flags]   manage the keystore directory (see cli/keys_command.h)
//   signer records export|import|prune    the anti-equivocation record's tools (cli/records_command.h)
//   signer audit verify FILE              check the audit log's hash chain
//
// Serving: harden the process (no core dumps, not dumpable), load the config, read the
// passwords (file or env var), decrypt every key into locked memory, load the policy, open the
// anti-equivocation database and the audit log, start the metrics endpoint and the gRPC
// transport, then wait: SIGHUP reloads the policy (an invalid one is rejected and the old one
// kept), SIGTERM/SIGINT shut down gracefully.
//
// Exit codes: 0 after a graceful shutdown, 1 if it cannot start, 2 for a bad command line or
// config file, 3 if the anti-equivocation record cannot be opened (record_backend.h).
#ifndef ONCHAIN_KMS_SIGNER_SERVER_SIGNER_MAIN_H_
#define ONCHAIN_KMS_SIGNER_SERVER_SIGNER_MAIN_H_

namespace signer::server {

int SignerMain(int argc, char** argv);

}  // namespace signer::server

#endif  // ONCHAIN_KMS_SIGNER_SERVER_SIGNER_MAIN_H_
