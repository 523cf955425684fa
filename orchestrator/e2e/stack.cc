#include "orchestrator/e2e/stack.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "platform/status_macros.h"

extern char** environ;

namespace orchestrator::e2e {
namespace {

namespace json = boost::json;
using platform::testing::RunfilePath;

constexpr char kPassword[] = "e2e keystore password";
constexpr char kAppDeployedTopic[] = "0xfd86d7f6962eba3b7a3bf9129c06c0b2f885e1c61ef2c9f0dbb856be0deefdee";
constexpr char kComposeHashAddedTopic[] = "0xfecb34306dd9d8b785b54d65489d06afc8822a0893ddacedff40c50a4942d0af";

absl::Status Write(const std::string& path, const std::string& content, mode_t mode = 0600) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
    out << content;
  }
  ::chmod(path.c_str(), mode);
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string DurationText(absl::Duration d) {
  const int64_t ns = absl::ToInt64Nanoseconds(d);
  return absl::StrCat("{ seconds: ", ns / 1000000000, " nanos: ", ns % 1000000000, " }");
}

}  // namespace

// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Child>> Child::Spawn(const std::string& binary, const std::vector<std::string>& args,
                                                    const std::vector<std::string>& extra_env,
                                                    const std::string& log_path, const std::string& stdin_path) {
  std::vector<std::string> argv_s = {binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    if (absl::StartsWith(*e, "ORCHESTRATOR_CRASH_AT=")) continue;
    env_s.emplace_back(*e);
  }
  env_s.insert(env_s.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int in = ::open(stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY);
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in >= 0) ::dup2(in, 0);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    ::execve(binary.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  return std::unique_ptr<Child>(new Child(pid));
}

Child::~Child() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool Child::Exited() {
  if (reaped_) return true;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    reaped_ = true;
    code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  return reaped_;
}

absl::StatusOr<int> Child::Wait(absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  while (!Exited()) {
    if (absl::Now() > until) return absl::DeadlineExceededError(absl::StrCat("process ", pid_, " still running"));
    absl::SleepFor(absl::Milliseconds(10));
  }
  return code_;
}

absl::StatusOr<int> Child::Stop(int sig, absl::Duration timeout) {
  if (!Exited()) ::kill(pid_, sig);
  absl::StatusOr<int> code = Wait(timeout);
  if (!code.ok()) {
    ::kill(pid_, SIGKILL);
    return Wait(absl::Seconds(5));
  }
  return code;
}

// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Stack>> Stack::Start(const StackOptions& options) {
  std::unique_ptr<Stack> s(new Stack());
  s->options_ = options;
  anvil::Options ao;
  ao.chain_id = options.chain_id;
  if (options.block_time > absl::ZeroDuration()) {
    ao.automine = false;
    ao.block_time = options.block_time;
  }
  ao.two_step_ownership = options.two_step_ownership;
  absl::StatusOr<std::unique_ptr<anvil::Anvil>> a = anvil::Anvil::Start(ao);
  if (!a.ok()) return a.status();
  s->anvil_ = *std::move(a);

  absl::StatusOr<std::unique_ptr<cloudsim::testing::SimProcess>> sim = cloudsim::testing::SimProcess::Start(
      RunfilePath("test/cloudsim/cloudsim"),
      {"--db=" + s->dir() + "/sim.sqlite", "--rpc_url=" + s->anvil_->chain().rpc_url,
       "--kms_contract=" + s->anvil_->chain().kms_address, absl::StrCat("--chain_id=", options.chain_id),
       "--rpc_timeout_ms=2000"},
      s->dir() + "/sim.log");
  if (!sim.ok()) return sim.status();
  s->sim_ = *std::move(sim);
  s->sim_http_ = std::make_unique<cloudsim::testing::HttpClient>("127.0.0.1", static_cast<uint16_t>(s->sim_port()));
  if (options.postgres) {
    absl::StatusOr<std::unique_ptr<platform::postgres::TestServer>> pg = platform::postgres::TestServer::Create();
    if (!pg.ok()) return pg.status();
    s->pg_ = *std::move(pg);
    absl::StatusOr<std::string> dsn_file = s->pg_->CreateDatabase("orchestrator");
    if (!dsn_file.ok()) return dsn_file.status();
    s->journal_dsn_file_ = *dsn_file;
    if (options.signer_postgres) {
      absl::StatusOr<std::string> signer_dsn_file = s->pg_->CreateDatabase("signer");
      if (!signer_dsn_file.ok()) return signer_dsn_file.status();
      s->signer_dsn_file_ = *signer_dsn_file;
      // The test server runs with synchronous_commit off; the signer refuses a record without
      // durable commits.
      absl::StatusOr<std::unique_ptr<platform::postgres::Connection>> db = s->ConnectSignerRecord();
      if (!db.ok()) return db.status();
      RETURN_IF_ERROR((*db)->Exec("ALTER DATABASE signer SET synchronous_commit = on"));
    }
  }
  const int replicas = std::max(1, options.replicas);
  s->orchestrators_.resize(replicas);
  for (int i = 0; i < replicas; ++i) {
    s->addresses_.push_back("unix:" + s->ReplicaFile(i, ".sock"));
    s->stubs_.push_back(
        v1::Orchestrator::NewStub(grpc::CreateChannel(s->addresses_.back(), grpc::InsecureChannelCredentials())));
  }

  RETURN_IF_ERROR(s->WriteFiles());
  // The signer's keystore: anvil's funded key #0 (a public test key), imported from stdin.
  absl::StatusOr<std::unique_ptr<Child>> import =
      Child::Spawn(RunfilePath("signer/signer"),
                   {"keys", "import", "--keystore_dir=" + s->dir() + "/ks", "--password_file=" + s->dir() + "/pw",
                    "--scrypt_n=4096"},
                   {}, s->dir() + "/signer-import.log", s->dir() + "/key");
  if (!import.ok()) return import.status();
  absl::StatusOr<int> code = (*import)->Wait(absl::Seconds(60));
  if (!code.ok() || *code != 0) {
    return absl::InternalError(absl::StrCat("signer keys import failed: ", ReadFile(s->dir() + "/signer-import.log")));
  }
  ::unlink((s->dir() + "/key").c_str());
  RETURN_IF_ERROR(s->StartSigner());
  return s;
}

Stack::~Stack() {
  for (std::unique_ptr<Child>& o : orchestrators_) {
    if (o != nullptr) (void)o->Stop(SIGKILL);
  }
  if (signer_ != nullptr) (void)signer_->Stop(SIGTERM);
}

// Replica 0 keeps the single-orchestrator names (o.sock, orchestrator.log) the suites know.
std::string Stack::ReplicaFile(int i, const std::string& suffix) const {
  if (suffix == ".sock") return absl::StrCat(dir(), "/o", i == 0 ? "" : absl::StrCat(i), suffix);
  return absl::StrCat(dir(), "/orchestrator", i == 0 ? "" : absl::StrCat(i), suffix);
}

std::string Stack::ReplicaId(int i) { return absl::StrCat("r", i); }

namespace {
absl::StatusOr<std::unique_ptr<platform::postgres::Connection>> ConnectTo(const std::string& dsn_file) {
  if (dsn_file.empty()) return absl::FailedPreconditionError("not on PostgreSQL in this stack");
  absl::StatusOr<platform::postgres::Dsn> dsn = platform::postgres::Dsn::FromFile(dsn_file);
  if (!dsn.ok()) return dsn.status();
  return platform::postgres::Connection::Open(*dsn);
}
}  // namespace

absl::StatusOr<std::unique_ptr<platform::postgres::Connection>> Stack::ConnectJournal() const {
  return ConnectTo(journal_dsn_file_);
}

absl::StatusOr<std::unique_ptr<platform::postgres::Connection>> Stack::ConnectSignerRecord() const {
  return ConnectTo(signer_dsn_file_);
}

int Stack::sim_port() const {
  const json::value& p = sim_->ready().at("port");
  return static_cast<int>(p.is_int64() ? p.as_int64() : static_cast<int64_t>(p.as_uint64()));
}

absl::Status Stack::WriteFiles() {
  const std::string& d = dir();
  if (::mkdir((d + "/ks").c_str(), 0700) != 0) return absl::InternalError("mkdir ks");
  RETURN_IF_ERROR(Write(d + "/key", std::string(anvil::kDeployerPrivateKey) + "\n"));
  RETURN_IF_ERROR(Write(d + "/pw", std::string(kPassword) + "\n"));
  if (absl::Status s = Write(d + "/api-key", std::string(cloudsim::testing::SimInstance::kApiKey) + "\n"); !s.ok()) {
    return s;
  }
  RETURN_IF_ERROR(WriteSignerPolicy());
  const std::string signer_config = absl::StrCat(R"pb(listen { unix { path: ")pb", d, R"pb(/s.sock" } }
keystore_dir: ")pb",
                                                 d, R"pb(/ks"
password { file: ")pb",
                                                 d, R"pb(/pw" }
policy_file: ")pb",
                                                 d, R"pb(/policy.textproto"
audit_log_path: ")pb",
                                                 d, R"pb(/signer-audit.jsonl"
)pb");
  const std::string record =
      signer_dsn_file_.empty() ? absl::StrCat("anti_equivocation_db_path: \"", d, "/signer-ae.sqlite\"\n")
                               : absl::StrCat("anti_equivocation_postgres { dsn_file: \"", signer_dsn_file_, "\" }\n");
  RETURN_IF_ERROR(Write(d + "/signer.textproto", signer_config + record, 0644));
  return WriteOrchestratorConfig();
}

absl::Status Stack::SetComposeHashWarnOnly(bool warn_only) {
  options_.compose_hash_warn_only = warn_only;
  return WriteOrchestratorConfig();
}

// The signer's policy: the chain, the orchestrator's uid with key #0 and every intent, plus
// signer_policy_extra (e.g. generic_transaction_rules). Read by the signer when it starts.
absl::Status Stack::WriteSignerPolicy() {
  const std::string policy = absl::StrCat(R"pb(chains {
  chain_id: )pb",
                                          options_.chain_id, R"pb(
  name: "e2e"
  kms_contract_addresses: ")pb",
                                          anvil_->chain().kms_address, R"pb("
  any_app: true
  max_fee_per_gas_wei: "100000000000"
  max_priority_fee_per_gas_wei: "10000000000"
  max_gas_limit: 2000000
}
default_key_limits { rate_limit { requests_per_second: 1000 burst: 1000 } fee_budget_24h_wei: "100000000000000000000" }
message_signing { enabled: false }
callers {
  name: "orchestrator"
  identities: "uid:)pb",
                                          ::getuid(), R"pb("
  keys: ")pb",
                                          anvil::kDeployerAddress, R"pb("
  intents: [ INTENT_DEPLOY_AND_REGISTER_APP, INTENT_ADD_COMPOSE_HASH, INTENT_MANAGE_DEVICES, INTENT_MANAGE_OWNERSHIP ]
}
)pb",
                                          options_.signer_policy_extra);
  return Write(dir() + "/policy.textproto", policy, 0644);
}

absl::Status Stack::SetSignerPolicyExtra(const std::string& extra) {
  options_.signer_policy_extra = extra;
  return WriteSignerPolicy();
}

absl::Status Stack::SetExtraConfig(const std::string& extra) {
  options_.extra_config = extra;
  return WriteOrchestratorConfig();
}

// SQLite, or the PostgreSQL journal; several replicas also get their id and the lease timings
// (field names of design § 3.1).
std::string Stack::JournalConfig(int replica) const {
  if (pg_ == nullptr) return absl::StrCat("journal_path: \"", dir(), "/journal.sqlite\"\n");
  std::string postgres = absl::StrCat("dsn_file: \"", journal_dsn_file_, "\"");
  if (options_.pool_size > 0) absl::StrAppend(&postgres, " pool_size: ", options_.pool_size);
  if (replicas() > 1) {
    absl::StrAppend(&postgres, " replica_id: \"", ReplicaId(replica), "\" lease_ttl ", DurationText(options_.lease_ttl),
                    " heartbeat_interval ", DurationText(options_.heartbeat_interval), " claim_interval ",
                    DurationText(options_.claim_interval));
  }
  return absl::StrCat("journal { postgres { ", postgres, " } }\n");
}

absl::Status Stack::WriteOrchestratorConfig() {
  std::string before;
  for (const std::string& url : options_.rpc_endpoints_before)
    absl::StrAppend(&before, "  rpc_endpoints: \"", url, "\"\n");
  for (int i = 0; i < replicas(); ++i) {
    const std::string& d = dir();
    const std::string config = absl::StrCat(
        options_.listen.empty() ? absl::StrCat("listen { unix { path: \"", ReplicaFile(i, ".sock"), "\" } }")
                                : options_.listen,
        "\nphala_cloud { base_url: \"", sim_->base_url(), "\" api_key_file: \"", d, "/api-key\" request_timeout ",
        DurationText(options_.cloud_timeout), " }\n", "chains {\n  chain_id: ", options_.chain_id,
        "\n  kms_type: KMS_TYPE_BASE\n", before, "  rpc_endpoints: \"", anvil_->chain().rpc_url,
        "\"\n  max_fee_per_gas_wei: \"100000000000\"\n",
        "  max_priority_fee_per_gas_wei: \"10000000000\"\n  receipt_poll_interval { nanos: 50000000 }\n",
        "  receipt_timeout { seconds: 20 }\n  fee_bump_after { seconds: 30 }\n  rpc_timeout ",
        DurationText(options_.rpc_timeout), "\n}\n", "signer { address: \"unix:", d, "/s.sock\" timeout ",
        DurationText(options_.signer_timeout), " }\n", "default_signer_key_address: \"", anvil::kDeployerAddress,
        "\"\n", JournalConfig(i), "transient_retry_timeout ", DurationText(options_.retry_timeout), "\n",
        "health_check_interval { nanos: 200000000 }\n",
        options_.compose_hash_warn_only ? "compose_hash_check_warn_only: true\n" : "", options_.extra_config, "\n");
    RETURN_IF_ERROR(Write(ReplicaFile(i, ".textproto"), config, 0644));
  }
  return absl::OkStatus();
}

absl::Status Stack::StartSigner() {
  std::vector<std::string> args = {"--config=" + dir() + "/signer.textproto"};
  if (options_.signer_metrics_port != 0) args.push_back(absl::StrCat("--metrics_port=", options_.signer_metrics_port));
  absl::StatusOr<std::unique_ptr<Child>> c =
      Child::Spawn(RunfilePath("signer/signer"), args, {}, dir() + "/signer.log");
  if (!c.ok()) return c.status();
  signer_ = *std::move(c);
  const std::string addr = "unix:" + dir() + "/s.sock";
  const absl::Time until = absl::Now() + absl::Seconds(60);
  while (absl::Now() < until) {
    if (signer_->Exited()) return absl::InternalError(absl::StrCat("signer exited: ", ReadFile(dir() + "/signer.log")));
    absl::StatusOr<std::string> h = platform::testing::CheckHealth(addr, "", absl::Milliseconds(500));
    if (h.ok() && *h == "SERVING") return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError("signer not serving");
}

absl::Status Stack::StopSigner() {
  if (signer_ == nullptr) return absl::OkStatus();
  absl::StatusOr<int> code = signer_->Stop(SIGTERM);
  signer_.reset();
  return code.status();
}

absl::Status Stack::StartReplica(int i, const std::vector<std::string>& env, bool wait_serving) {
  absl::StatusOr<std::unique_ptr<Child>> c = Child::Spawn(
      RunfilePath(options_.crash_points ? "orchestrator/orchestrator_crash_points" : "orchestrator/orchestrator"),
      {"--config=" + ReplicaFile(i, ".textproto")}, env, ReplicaFile(i, ".log"));
  if (!c.ok()) return c.status();
  orchestrators_[i] = *std::move(c);
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (absl::Now() < until) {
    if (orchestrators_[i]->Exited()) {
      return absl::InternalError(absl::StrCat("orchestrator ", ReplicaId(i), " exited early:\n", replica_log(i)));
    }
    if (!options_.listen.empty()) {
      const std::string log = replica_log(i);
      const size_t at = log.rfind("serving on ");
      if (at != std::string::npos && log.find('\n', at) != std::string::npos) {
        addresses_[i] = log.substr(at + 11, log.find('\n', at) - at - 11);
        return absl::OkStatus();
      }
      absl::SleepFor(absl::Milliseconds(20));
      continue;
    }
    absl::StatusOr<std::string> h = platform::testing::CheckHealth(address(i), "", absl::Milliseconds(500));
    if (h.ok() && (*h == "SERVING" || !wait_serving)) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("orchestrator ", ReplicaId(i), " not serving:\n", replica_log(i)));
}

absl::Status Stack::KillReplica(int i) {
  if (orchestrators_[i] == nullptr) return absl::OkStatus();
  absl::StatusOr<int> code = orchestrators_[i]->Stop(SIGKILL);
  orchestrators_[i].reset();
  return code.status();
}

absl::StatusOr<int> Stack::WaitOrchestratorExit(absl::Duration timeout) {
  if (orchestrators_[0] == nullptr) return absl::FailedPreconditionError("not running");
  absl::StatusOr<int> code = orchestrators_[0]->Wait(timeout);
  if (code.ok()) orchestrators_[0].reset();
  return code;
}

absl::StatusOr<int> Stack::StopReplica(int i, int sig) {
  if (orchestrators_[i] == nullptr) return absl::FailedPreconditionError("not running");
  absl::StatusOr<int> code = orchestrators_[i]->Stop(sig);
  orchestrators_[i].reset();
  return code;
}

bool Stack::ReplicaRunning(int i) { return orchestrators_[i] != nullptr && !orchestrators_[i]->Exited(); }

pid_t Stack::replica_pid(int i) const { return orchestrators_[i] == nullptr ? -1 : orchestrators_[i]->pid(); }

std::string Stack::replica_log(int i) const { return ReadFile(ReplicaFile(i, ".log")); }

std::string Stack::KeepLogs() const {
  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  if (outputs == nullptr) return "";
  std::error_code ec;
  for (const std::filesystem::directory_entry& e : std::filesystem::directory_iterator(dir(), ec)) {
    if (e.path().extension() != ".log") continue;
    std::filesystem::copy_file(e.path(), std::filesystem::path(outputs) / e.path().filename(),
                               std::filesystem::copy_options::overwrite_existing, ec);
  }
  return outputs;
}

cloudsim::testing::Reply Stack::SimAdmin(const std::string& method, const std::string& path, const std::string& body) {
  std::map<std::string, std::string> headers;
  if (!body.empty()) headers["content-type"] = "application/json";
  return sim_http_->Send(method, "/_sim" + path, body, headers);
}

std::vector<json::object> Stack::SimRequests(const std::string& method, const std::string& path_prefix) {
  std::vector<json::object> out;
  cloudsim::testing::Reply r = SimAdmin("GET", "/requests?limit=100000&path_prefix=" + path_prefix);
  json::value v = r.json();
  const json::array* items = nullptr;
  if (v.is_array()) items = &v.as_array();
  if (v.is_object()) {
    for (const char* k : {"requests", "items"}) {
      if (v.as_object().contains(k) && v.as_object().at(k).is_array()) items = &v.as_object().at(k).as_array();
    }
  }
  if (items == nullptr) return out;
  for (const json::value& e : *items) {
    if (!e.is_object()) continue;
    const json::object& o = e.as_object();
    if (!method.empty() && (!o.contains("method") || o.at("method").as_string() != method)) continue;
    out.push_back(o);
  }
  return out;
}

int Stack::CountSimRequests(const std::string& method, const std::string& path) {
  int n = 0;
  for (const json::object& o : SimRequests(method, path)) {
    if (o.contains("path") && o.at("path").is_string() && o.at("path").as_string() == path) ++n;
  }
  return n;
}

absl::Status Stack::AddFault(const std::string& rule_json) {
  cloudsim::testing::Reply r = SimAdmin("POST", "/faults", rule_json);
  if (r.status / 100 != 2) return absl::InternalError(absl::StrCat("add fault: HTTP ", r.status, " ", r.body));
  return absl::OkStatus();
}

absl::Status Stack::ClearFaults() {
  cloudsim::testing::Reply r = SimAdmin("DELETE", "/faults");
  if (r.status / 100 != 2) return absl::InternalError(absl::StrCat("clear faults: HTTP ", r.status));
  return absl::OkStatus();
}

absl::StatusOr<json::object> Stack::SimCvm(const std::string& cvm_id) {
  cloudsim::testing::Reply r = SimAdmin("GET", "/cvms/" + cvm_id);
  if (r.status != 200) return absl::NotFoundError(absl::StrCat("sim cvm ", cvm_id, ": HTTP ", r.status, " ", r.body));
  json::value v = r.json();
  if (!v.is_object()) return absl::InternalError("sim cvm: not an object");
  return v.as_object();
}

absl::StatusOr<json::array> Stack::AppDeployedLogs() {
  json::object filter;
  filter["fromBlock"] = "0x0";
  filter["toBlock"] = "latest";
  filter["address"] = anvil_->chain().kms_address;
  filter["topics"] = json::array{kAppDeployedTopic};
  absl::StatusOr<json::value> logs = anvil_->Call("eth_getLogs", json::array{filter});
  if (!logs.ok()) return logs.status();
  if (!logs->is_array()) return absl::InternalError("eth_getLogs: not an array");
  return logs->as_array();
}

absl::StatusOr<int> Stack::CountAppDeployed() {
  absl::StatusOr<json::array> logs = AppDeployedLogs();
  if (!logs.ok()) return logs.status();
  return static_cast<int>(logs->size());
}

absl::StatusOr<int> Stack::CountComposeHashAdded(const std::string& app, const std::string& hash) {
  return CountLogs(app, kComposeHashAddedTopic, hash);
}

absl::StatusOr<int> Stack::CountLogs(const std::string& address, const std::string& topic0, const std::string& data) {
  json::object filter;
  filter["fromBlock"] = "0x0";
  filter["toBlock"] = "latest";
  filter["address"] = absl::AsciiStrToLower(address);
  filter["topics"] = json::array{json::value(topic0)};
  absl::StatusOr<json::value> logs = anvil_->Call("eth_getLogs", json::array{filter});
  if (!logs.ok()) return logs.status();
  int n = 0;
  for (const json::value& l : logs->as_array()) {
    const std::string got = absl::AsciiStrToLower(std::string(l.as_object().at("data").as_string()));
    if (data.empty() || got == absl::AsciiStrToLower(absl::StartsWith(data, "0x") ? data : "0x" + data)) ++n;
  }
  return n;
}

absl::StatusOr<v1::Operation> Stack::Get(const std::string& id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::GetOperationRequest req;
  req.set_operation_id(id);
  v1::Operation op;
  grpc::Status s = stub().GetOperation(&ctx, req, &op);
  if (!s.ok()) return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  return op;
}

absl::StatusOr<v1::Operation> Stack::Deploy(const v1::DeployCvmRequest& request) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::Operation op;
  const grpc::Status s = stub().DeployCvm(&ctx, request, &op);
  if (!s.ok()) return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  return op;
}

absl::StatusOr<v1::Operation> Stack::WaitFor(const std::string& id, absl::Duration timeout, v1::OperationState until) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<v1::Operation> op = absl::DeadlineExceededError("no answer");
  while (absl::Now() < deadline) {
    op = Get(id);
    if (op.ok()) {
      const v1::OperationState s = op->state();
      if (s == v1::OPERATION_STATE_SUCCEEDED || s == v1::OPERATION_STATE_FAILED || s == v1::OPERATION_STATE_CANCELLED ||
          (until != v1::OPERATION_STATE_UNSPECIFIED && s == until)) {
        return op;
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "operation ", id, " not finished in time; last: ", op.ok() ? op->DebugString() : op.status().ToString()));
}

v1::DeployCvmRequest Stack::DeployRequest(const std::string& request_id, const std::string& name) const {
  v1::DeployCvmRequest r;
  r.set_request_id(request_id);
  r.set_name(name);
  r.set_kms_type(v1::KMS_TYPE_BASE);
  r.mutable_compose()->set_docker_compose_file("services:\n  app:\n    image: nginx:latest\n");
  v1::EnvVar* e = r.add_env_vars();
  e->set_key("API_TOKEN");
  e->set_value("s3cr3t-value-for-" + request_id);
  e = r.add_env_vars();
  e->set_key("MODE");
  e->set_value("production");
  return r;
}

}  // namespace orchestrator::e2e
