// What kmsctl was asked to do: the parsed command line (cli.h makes it) that the runner
// (runner.h) carries out, and the `Io` through which both reach files, stdin and the environment.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_INVOCATION_H_
#define ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_INVOCATION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "onchainkms/orchestrator/v1/orchestrator.pb.h"
#include "orchestrator/kmsctl/command_spec.h"

namespace kmsctl {

namespace v1 = ::onchainkms::orchestrator::v1;

// The outside world, as the parser sees it.
class Io {
 public:
  virtual ~Io() = default;
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  virtual absl::StatusOr<std::string> ReadStdin() = 0;
  // An environment variable, or nullopt when unset.
  virtual std::optional<std::string> Getenv(const std::string& name) = 0;
  // A fresh random request id.
  virtual std::string NewRequestId() = 0;
};

// How to reach the orchestrator.
struct Connection {
  std::string address;          // unix:/path or host:port
  bool tls = false;             // TLS (implied by any tls_* file)
  std::string tls_ca_file;      // PEM roots; empty = the system store
  std::string tls_cert_file;    // client certificate (mTLS)
  std::string tls_key_file;     // its key
  std::string tls_server_name;  // expected name in the server certificate
  std::string token_file;       // bearer token (needs TLS)
};

// A parsed command line.
struct Invocation {
  const CommandSpec* command = nullptr;  // an entry of the table; nullptr: print help_text, exit 0
  std::string help_text;

  Connection connection;
  bool json = false;                                  // proto3 JSON on stdout
  bool wait = true;                                   // mutating: follow the operation to its end
  absl::Duration timeout = absl::InfiniteDuration();  // how long to follow an operation
  absl::Duration rpc_timeout = absl::Seconds(30);     // deadline of one unary call

  // Mutating commands.
  std::string request_id;
  bool request_id_generated = false;  // true: not given, so print it for retries

  // The request; which one is set follows `command`.
  v1::ListKmsInstancesRequest kms_list;
  v1::DeployCvmRequest deploy;
  v1::UpdateEnvVarsRequest envs_update;
  v1::UpdateDockerComposeRequest compose_update;
  v1::UpdateComposeFileRequest compose_file_update;
  v1::AddComposeHashRequest compose_hash_add;
  v1::ListOperationsRequest ops_list;
  bool ops_list_all = false;  // follow next_page_token to the end
  v1::SupplyEnvVarsRequest supply_envs;
  v1::SubmitOwnerTransactionRequest submit_owner_tx;
  std::string operation_id;  // ops get|watch|cancel
  v1::AdoptResourceRequest adopt;
  v1::GetCvmRequest cvm_get;
  v1::ListCvmsRequest cvms_list;
  bool cvms_list_all = false;               // follow next_page_token to the end
  v1::GetAppStateRequest app_state;         // app state
  v1::UpdateAppContractRequest app_change;  // app devices|transfer-ownership|...

  // The env vars the request carries (also inside the request), kept so that kmsctl can answer a
  // WAITING_FOR_INPUT operation it started itself; nullopt when the command read none.
  std::optional<std::vector<v1::EnvVar>> env_vars;
};

// What went wrong, and the exit code for it (kExitUsage or kExitInvalidArgument).
struct CliError {
  int exit_code;
  std::string message;  // one line, without secrets; no "kmsctl: " prefix
};

}  // namespace kmsctl

#endif  // ONCHAIN_KMS_ORCHESTRATOR_KMSCTL_INVOCATION_H_
