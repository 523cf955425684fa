// signer: the isolated key-holding gRPC service. See signer/README.md and
// signer/server/signer_main.h (commands, flags, exit codes).
//
//   signer --config=/etc/onchain-kms/signer.textproto
//   signer keys new|import|list --keystore_dir=DIR --password_file=FILE
//   signer audit verify /var/log/onchain-kms/signer-audit.jsonl
#include "signer/server/signer_main.h"

int main(int argc, char** argv) { return signer::server::SignerMain(argc, argv); }
