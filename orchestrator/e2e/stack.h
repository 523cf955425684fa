// The end-to-end stack for the orchestrator's tests: anvil with the test DstackKms/DstackApp
// (//test/anvil:harness), the Phala Cloud simulator process (//test/cloudsim:cloudsim), the
// REAL signer process (//signer, keystore with anvil's funded key #0, a policy for the chain),
// and the REAL orchestrator process (//orchestrator), all on Unix sockets in one temp dir. The
// orchestrator can be started with a crash point (ORCHESTRATOR_CRASH_AT), killed with SIGKILL
// and restarted on the same journal; the signer can be stopped and started again.
//
// With `postgres` the journal is a database on a real PostgreSQL 15 the stack starts (a
// TestServer that a test may Stop and Start), and `replicas` orchestrator processes share it:
// replica i has its own config, socket, log and replica id "r<i>" (replica 0 is what the
// single-orchestrator calls below act on), and the same signer.
#ifndef ONCHAIN_KMS_ORCHESTRATOR_E2E_STACK_H_
#define ONCHAIN_KMS_ORCHESTRATOR_E2E_STACK_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "onchainkms/orchestrator/v1/orchestrator.grpc.pb.h"
#include "platform/postgres/connection.h"
#include "platform/postgres/testing/test_server.h"
#include "platform/testing/server_process.h"
#include "test/anvil/harness.h"
#include "test/cloudsim/test_util.h"

namespace orchestrator::e2e {

namespace v1 = ::onchainkms::orchestrator::v1;

// A child process with its own environment additions, output appended to a log file, killed
// with the test (PR_SET_PDEATHSIG).
class Child {
 public:
  static absl::StatusOr<std::unique_ptr<Child>> Spawn(const std::string& binary, const std::vector<std::string>& args,
                                                      const std::vector<std::string>& extra_env,
                                                      const std::string& log_path, const std::string& stdin_path = "");
  ~Child();
  pid_t pid() const { return pid_; }
  // The exit code (128 + signal when killed by one), waiting up to `timeout`.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  bool Exited();
  // Sends `sig` and waits.
  absl::StatusOr<int> Stop(int sig, absl::Duration timeout = absl::Seconds(15));

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
  int code_ = 0;
};

struct StackOptions {
  uint64_t chain_id = 31337;
  absl::Duration retry_timeout = absl::Seconds(20);
  absl::Duration rpc_timeout = absl::Seconds(2);
  absl::Duration cloud_timeout = absl::Seconds(5);
  absl::Duration signer_timeout = absl::Seconds(2);
  bool compose_hash_warn_only = false;
  // Extra text-proto lines for the orchestrator's config.
  std::string extra_config;
  // Apps deployed with two-step ownership (DstackAppTwoStep: pendingOwner / acceptOwnership).
  bool two_step_ownership = false;
  // Extra text-proto lines for the signer's policy (e.g. generic_transaction_rules).
  std::string signer_policy_extra;
  // The signer's Prometheus endpoint on this port (--metrics_port); 0: none.
  int signer_metrics_port = 0;
  // A `listen { ... }` section instead of the Unix socket (e.g. TCP with TLS and bearer tokens).
  // Then a replica counts as started once it prints "serving on <host:port>", address(i) is
  // that host:port, and stub(i) is not usable (the test makes its own channel).
  std::string listen;
  // Run //orchestrator:orchestrator_crash_points (the test build whose crash points
  // ORCHESTRATOR_CRASH_AT arms) instead of the shipped binary, which has none.
  bool crash_points = false;
  // anvil: zero mines one block per transaction at once; else a block every block_time (so
  // transactions stay in flight for a while).
  absl::Duration block_time = absl::ZeroDuration();
  // RPC endpoints listed before anvil's in the chain's rpc_endpoints (e.g. a dead one, to fail over).
  std::vector<std::string> rpc_endpoints_before;
  // The journal on PostgreSQL (database "orchestrator" on a TestServer the stack owns).
  bool postgres = false;
  uint32_t pool_size = 0;  // 0: the orchestrator's default
  // The signer's anti-equivocation record on the same server too (database "signer"); needs postgres.
  bool signer_postgres = false;
  // Orchestrator processes on the one PostgreSQL journal. With more than one, each config also
  // gets replica_id and the lease timings of design § 4.3 (test values below).
  int replicas = 1;
  absl::Duration lease_ttl = absl::Seconds(2);
  absl::Duration heartbeat_interval = absl::Milliseconds(500);
  absl::Duration claim_interval = absl::Milliseconds(250);
};

class Stack {
 public:
  // anvil + simulator + signer (the orchestrator is started separately).
  static absl::StatusOr<std::unique_ptr<Stack>> Start(const StackOptions& options = {});
  ~Stack();

  // Starts the orchestrator on the stack's journal; `env` e.g. {"ORCHESTRATOR_CRASH_AT=commit:before"}.
  // With wait_serving, waits until its health is SERVING.
  absl::Status StartOrchestrator(const std::vector<std::string>& env = {}, bool wait_serving = true) {
    return StartReplica(0, env, wait_serving);
  }
  // SIGKILL (kill -9).
  absl::Status KillOrchestrator() { return KillReplica(0); }
  // Waits for the orchestrator to exit by itself (a crash point); its exit code.
  absl::StatusOr<int> WaitOrchestratorExit(absl::Duration timeout = absl::Seconds(30));
  absl::StatusOr<int> StopOrchestrator(int sig = SIGTERM) { return StopReplica(0, sig); }
  bool OrchestratorRunning() { return ReplicaRunning(0); }

  // The same for replica `i` (0 <= i < replicas()).
  absl::Status StartReplica(int i, const std::vector<std::string>& env = {}, bool wait_serving = true);
  absl::Status KillReplica(int i);
  absl::StatusOr<int> StopReplica(int i, int sig = SIGTERM);
  bool ReplicaRunning(int i);
  pid_t replica_pid(int i) const;
  int replicas() const { return static_cast<int>(addresses_.size()); }
  const std::string& address(int i) const { return addresses_[i]; }
  v1::Orchestrator::Stub& stub(int i) { return *stubs_[i]; }
  std::string replica_log(int i) const;
  static std::string ReplicaId(int i);
  // After a failed test: copies every log of the stack (each replica's, the signer's, the
  // simulator's) into the test's undeclared outputs (bazel-testlogs/.../test.outputs/) and returns
  // that directory; "" outside Bazel.
  std::string KeepLogs() const;

  // With `postgres`: the server (Stop/Start it for an outage), the journal's DSN file, and a new
  // connection to the journal's database.
  platform::postgres::TestServer& postgres() { return *pg_; }
  const std::string& journal_dsn_file() const { return journal_dsn_file_; }
  absl::StatusOr<std::unique_ptr<platform::postgres::Connection>> ConnectJournal() const;
  // With signer_postgres: a new connection to the signer's record.
  absl::StatusOr<std::unique_ptr<platform::postgres::Connection>> ConnectSignerRecord() const;

  // Rewrites the orchestrator's config with compose_hash_check_warn_only / extra text-proto
  // lines (restart to apply).
  absl::Status SetComposeHashWarnOnly(bool warn_only);
  absl::Status SetExtraConfig(const std::string& extra);
  // Rewrites the signer's policy with these extra lines (restart the signer to apply).
  absl::Status SetSignerPolicyExtra(const std::string& extra);

  absl::Status StopSigner();
  absl::Status StartSigner();

  anvil::Anvil& anvil() { return *anvil_; }
  const std::string& dir() const { return dir_.path(); }
  const std::string& address() const { return addresses_[0]; }
  std::string orchestrator_log() const { return replica_log(0); }
  v1::Orchestrator::Stub& stub() { return *stubs_[0]; }
  std::string kms_address() const { return anvil_->chain().kms_address; }
  std::string signer_address() const { return anvil::kDeployerAddress; }

  // The simulator: GET/POST/DELETE on /_sim.
  cloudsim::testing::Reply SimAdmin(const std::string& method, const std::string& path, const std::string& body = "");
  // Requests the simulator received (/_sim/requests), filtered.
  std::vector<boost::json::object> SimRequests(const std::string& method, const std::string& path_prefix);
  // How many requests with exactly this method and path (API-absolute, e.g. "/api/v1/cvms").
  int CountSimRequests(const std::string& method, const std::string& path);
  // Adds a fault rule (JSON); ClearFaults removes all.
  absl::Status AddFault(const std::string& rule_json);
  absl::Status ClearFaults();
  // The simulator's record of a CVM (/_sim/cvms/{id}).
  absl::StatusOr<boost::json::object> SimCvm(const std::string& cvm_id);
  int sim_port() const;
  std::string sim_base_url() const { return sim_->base_url(); }

  // On chain: AppDeployedViaFactory logs of the KMS; ComposeHashAdded logs of `app`.
  absl::StatusOr<int> CountAppDeployed();
  // Those events (eth_getLogs entries: topics[1] the app id, transactionHash, blockNumber).
  absl::StatusOr<boost::json::array> AppDeployedLogs();
  absl::StatusOr<int> CountComposeHashAdded(const std::string& app, const std::string& hash = "");
  // Logs of `address` with this topic0 (and, if given, exactly this data, 0x-hex).
  absl::StatusOr<int> CountLogs(const std::string& address, const std::string& topic0, const std::string& data = "");

  // Polls GetOperation until the operation is terminal or in `until` state.
  absl::StatusOr<v1::Operation> WaitFor(const std::string& id, absl::Duration timeout = absl::Seconds(40),
                                        v1::OperationState until = v1::OPERATION_STATE_UNSPECIFIED);
  absl::StatusOr<v1::Operation> Get(const std::string& id);

  // DeployCvm on replica 0; the gRPC status as an absl::Status.
  absl::StatusOr<v1::Operation> Deploy(const v1::DeployCvmRequest& request);

  // Requests for the common cases.
  v1::DeployCvmRequest DeployRequest(const std::string& request_id, const std::string& name) const;

 private:
  Stack() = default;
  absl::Status WriteFiles();
  absl::Status WriteOrchestratorConfig();
  absl::Status WriteSignerPolicy();
  std::string JournalConfig(int replica) const;
  std::string ReplicaFile(int i, const std::string& suffix) const;

  platform::testing::ShortTempDir dir_;
  StackOptions options_;
  std::unique_ptr<anvil::Anvil> anvil_;
  std::unique_ptr<cloudsim::testing::SimProcess> sim_;
  std::unique_ptr<cloudsim::testing::HttpClient> sim_http_;
  std::unique_ptr<Child> signer_;
  std::unique_ptr<platform::postgres::TestServer> pg_;
  std::string journal_dsn_file_;
  std::string signer_dsn_file_;
  std::vector<std::unique_ptr<Child>> orchestrators_;  // per replica; null when not running
  std::vector<std::string> addresses_;
  std::vector<std::unique_ptr<v1::Orchestrator::Stub>> stubs_;
};

}  // namespace orchestrator::e2e

#endif  // ONCHAIN_KMS_ORCHESTRATOR_E2E_STACK_H_
