#include "test/anvil/harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "chain/u256.h"
#include "platform/status_macros.h"
#include "test/anvil/artifacts.h"
#include "test/support/node_tools.h"

namespace anvil {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr char kHost[] = "127.0.0.1";
constexpr absl::Duration kPoll = absl::Milliseconds(20);

// Our debian Abseil has its own string_view type, which Boost.JSON does not know.
json::string_view Js(absl::string_view s) { return {s.data(), s.size()}; }
absl::string_view Av(const json::string& s) { return {s.data(), s.size()}; }

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

absl::StatusOr<std::string> ExecutableAt(const fs::path& p) {
  if (::access(p.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(p.string(), " is missing: run tools/bootstrap.sh"));
  }
  return p.string();
}

fs::path FoundryPath(const fs::path& node_modules, absl::string_view tool) {
  return node_modules / absl::StrCat("@foundry-rs/", tool, "-linux-amd64/bin/", tool);
}

// tools/node/package.json inside a runfiles tree leads (as a symlink) back to the checkout,
// where node_modules sits beside it.
std::optional<fs::path> NodeModulesFromRunfiles(const fs::path& runfiles) {
  std::error_code ec;
  fs::path pkg = fs::canonical(runfiles / "onchain_kms/tools/node/package.json", ec);
  if (ec) return std::nullopt;
  return pkg.parent_path() / "node_modules";
}

// Child side of fork(): only async-signal-safe calls until execv.
[[noreturn]] void ExecChild(const std::vector<char*>& argv, int out_fd, int err_fd, pid_t parent, bool own_group,
                            bool die_with_parent) {
  if (own_group) ::setpgid(0, 0);
  if (die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
  }
  // A caller may block or ignore signals (devchain blocks SIGTERM for sigwait); exec keeps the
  // mask and ignored dispositions, which would make the child deaf to our SIGTERM.
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) ::signal(sig, SIG_DFL);
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  if (devnull > 2) ::close(devnull);
  ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

std::vector<char*> CArgv(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (std::string& a : args) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

// The TCP port `pid` listens on: its socket inodes (/proc/<pid>/fd) matched against the LISTEN
// rows of /proc/<pid>/net/tcp{,6}. This lets anvil bind port 0 itself, so there is no window
// in which another process could take a port we picked.
std::optional<uint16_t> ListeningPort(pid_t pid) {
  std::set<std::string> inodes;
  std::error_code ec;
  // increment(ec) rather than a range-for: entries vanish while we read, which must not throw.
  for (fs::directory_iterator it(absl::StrCat("/proc/", pid, "/fd"), ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code lec;
    std::string target = fs::read_symlink(it->path(), lec).string();
    if (!lec && absl::StartsWith(target, "socket:[")) inodes.insert(target.substr(8, target.size() - 9));
  }
  if (inodes.empty()) return std::nullopt;
  for (const char* table : {"tcp", "tcp6"}) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/net/", table));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (f.size() < 10 || f[3] != "0A" || inodes.count(f[9]) == 0) continue;  // 0A: LISTEN
      std::vector<std::string> local = absl::StrSplit(f[1], ':');
      uint32_t port = 0;
      if (local.size() == 2 && absl::SimpleHexAtoi(local[1], &port) && port > 0 && port < 65536) {
        return static_cast<uint16_t>(port);
      }
    }
  }
  return std::nullopt;
}

// True once every thread of `pid` is in state T (stopped), per /proc/<pid>/task/*/stat.
bool AllThreadsStopped(pid_t pid) {
  std::error_code ec;
  bool any = false;
  for (fs::directory_iterator it(absl::StrCat("/proc/", pid, "/task"), ec), end; !ec && it != end; it.increment(ec)) {
    std::ifstream in(it->path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // "tid (comm) S ...": the state follows the last ')', as comm may contain spaces.
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) continue;  // thread just exited
    if (stat[paren + 2] != 'T' && stat[paren + 2] != 't') return false;
    any = true;
  }
  return any;
}

std::string StripHexPrefix(absl::string_view hex) {
  if (absl::StartsWith(hex, "0x") || absl::StartsWith(hex, "0X")) hex.remove_prefix(2);
  return std::string(hex);
}

std::string DurationSeconds(absl::Duration d) {
  std::string s = absl::StrFormat("%.3f", absl::ToDoubleSeconds(d));
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string StatusText(const json::object& receipt) {
  const json::value* s = receipt.if_contains("status");
  return s != nullptr && s->is_string() ? std::string(s->as_string()) : "?";
}

}  // namespace

// ---------------------------------------------------------------- tools

absl::StatusOr<std::string> FindFoundryBinary(absl::string_view tool) {
  if (tool != "anvil" && tool != "cast") {
    return absl::InvalidArgumentError(absl::StrCat("unknown tool ", tool));
  }
  std::string env = Getenv(tool == "anvil" ? "ANVIL_BINARY" : "CAST_BINARY");
  if (!env.empty()) return ExecutableAt(env);
  if (!Getenv("TEST_SRCDIR").empty()) {
    return tool == "anvil" ? testsupport::AnvilBinary() : testsupport::CastBinary();
  }
  std::vector<fs::path> runfiles;
  if (std::string d = Getenv("RUNFILES_DIR"); !d.empty()) runfiles.emplace_back(d);
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) runfiles.push_back(fs::path(self.string() + ".runfiles"));
  for (const fs::path& r : runfiles) {
    if (std::optional<fs::path> nm = NodeModulesFromRunfiles(r)) return ExecutableAt(FoundryPath(*nm, tool));
  }
  if (std::string ws = Getenv("BUILD_WORKSPACE_DIRECTORY"); !ws.empty()) {
    return ExecutableAt(FoundryPath(fs::path(ws) / "tools/node/node_modules", tool));
  }
  return absl::NotFoundError(absl::StrCat("cannot locate ", tool, ": set $", tool == "anvil" ? "ANVIL" : "CAST",
                                          "_BINARY or run through bazel (run|test)"));
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv, absl::Duration timeout) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  std::vector<std::string> args = argv;
  std::vector<char*> cargv = CArgv(args);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ExecChild(cargv, out_pipe[1], err_pipe[1], parent, /*own_group=*/false, /*die_with_parent=*/true);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }

  CommandResult r;
  const absl::Time deadline = absl::Now() + timeout;
  bool timed_out = false;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  while (open_fds > 0) {
    int wait_ms = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    int n = ::poll(fds, 2, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      timed_out = true;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (pollfd& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(argv[0], " did not finish within ", absl::FormatDuration(timeout), "; stderr: ", r.err));
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (r.exit_code == 127 && r.out.empty() && r.err.empty()) {
    return absl::NotFoundError(absl::StrCat("cannot execute ", argv[0]));
  }
  return r;
}

absl::StatusOr<std::string> RunCast(const std::vector<std::string>& args) {
  absl::StatusOr<std::string> cast = FindFoundryBinary("cast");
  if (!cast.ok()) return cast.status();
  std::vector<std::string> argv = {*cast};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<CommandResult> r = RunCommand(argv);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::UnknownError(absl::StrCat("cast ", args.empty() ? "" : args[0], " exited ", r->exit_code, ": ",
                                           absl::StripAsciiWhitespace(r->err)));
  }
  std::string out = std::move(r->out);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string AbiWord(absl::string_view hex) {
  std::string digits = Lower(StripHexPrefix(hex));
  if (digits.size() >= 64) return digits.substr(digits.size() - 64);
  return std::string(64 - digits.size(), '0') + digits;
}

std::string ToQuantity(uint64_t v) { return absl::StrFormat("0x%x", v); }

absl::StatusOr<uint64_t> ParseQuantity(absl::string_view quantity) {
  uint64_t v = 0;
  std::string digits = StripHexPrefix(quantity);
  if (digits.empty() || digits.size() > 16 || !absl::SimpleHexAtoi(digits, &v)) {
    return absl::InvalidArgumentError(absl::StrCat("not a 64-bit hex quantity: ", quantity));
  }
  return v;
}

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }

// ---------------------------------------------------------------- Anvil

Anvil::Anvil(pid_t pid, std::string log_path, uint16_t port, const Options& options)
    : pid_(pid),
      log_path_(std::move(log_path)),
      port_(port),
      automine_(options.automine && options.block_time <= absl::ZeroDuration()),
      rpc_(kHost, port, options.rpc_timeout) {
  chain_.rpc_url = absl::StrCat("http://", kHost, ":", port);
  chain_.chain_id = options.chain_id;
}

absl::StatusOr<std::unique_ptr<Anvil>> Anvil::Start(const Options& options) {
  std::string binary = options.anvil_binary;
  if (binary.empty()) {
    absl::StatusOr<std::string> found = FindFoundryBinary("anvil");
    if (!found.ok()) return found.status();
    binary = *found;
  }
  std::vector<std::string> args = {binary,   "--silent", "--host",     kHost,
                                   "--port", "0",        "--chain-id", absl::StrCat(options.chain_id)};
  if (options.block_time > absl::ZeroDuration()) {
    args.insert(args.end(), {"--block-time", DurationSeconds(options.block_time)});
  } else if (!options.automine) {
    args.push_back("--no-mining");
  }
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());

  // anvil's own output (only errors, given --silent) goes to a file we quote on failure.
  std::string dir = Getenv("TEST_TMPDIR");
  if (dir.empty()) dir = fs::temp_directory_path().string();
  std::string log_template = (fs::path(dir) / "anvil-XXXXXX.log").string();
  int log_fd = ::mkstemps(log_template.data(), 4);
  if (log_fd < 0) return absl::InternalError(absl::StrCat("mkstemps in ", dir, ": ", std::strerror(errno)));
  ::fcntl(log_fd, F_SETFD, FD_CLOEXEC);

  std::vector<char*> cargv = CArgv(args);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) ExecChild(cargv, log_fd, log_fd, parent, /*own_group=*/true, /*die_with_parent=*/true);
  ::close(log_fd);
  if (pid < 0) {
    ::unlink(log_template.c_str());
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  ::setpgid(pid, pid);  // also from here, so a kill(-pid) right after fork() cannot miss

  // From here on the destructor owns the process.
  std::unique_ptr<Anvil> anvil(new Anvil(pid, log_template, 0, options));
  RETURN_IF_ERROR(anvil->WaitUntilReady(options));
  if (options.pool_doctor) anvil->doctor_ = std::make_unique<PoolDoctor>(kHost, anvil->port_);
  if (options.deploy_contracts) {
    RETURN_IF_ERROR(anvil->DeployContracts(options.two_step_ownership ? "DstackAppTwoStep" : "DstackApp"));
  }
  return anvil;
}

absl::Status Anvil::WaitUntilReady(const Options& options) {
  const absl::Time deadline = absl::Now() + options.startup_timeout;
  while (true) {
    if (Exited()) return absl::UnavailableError(absl::StrCat("anvil exited during start-up: ", LogTail()));
    if (std::optional<uint16_t> p = ListeningPort(pid_)) {
      port_ = *p;
      break;
    }
    if (absl::Now() > deadline) return absl::DeadlineExceededError("anvil opened no listening port in time");
    absl::SleepFor(kPoll);
  }
  rpc_ = JsonRpcClient(kHost, port_, absl::Seconds(2));
  chain_.rpc_url = absl::StrCat("http://", kHost, ":", port_);
  absl::Status last = absl::OkStatus();
  while (true) {
    if (Exited()) return absl::UnavailableError(absl::StrCat("anvil exited during start-up: ", LogTail()));
    absl::StatusOr<json::value> id = rpc_.Call("eth_chainId", {});
    if (id.ok()) {
      absl::StatusOr<uint64_t> got = id->is_string() ? ParseQuantity(Av(id->as_string())) : absl::InternalError("?");
      if (!got.ok() || *got != options.chain_id) {
        return absl::InternalError(absl::StrCat("anvil on port ", port_, " reports chain id ", json::serialize(*id),
                                                ", want ", options.chain_id));
      }
      break;
    }
    last = id.status();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("anvil not answering: ", last.message()));
    }
    absl::SleepFor(kPoll);
  }
  rpc_.set_timeout(options.rpc_timeout);
  return absl::OkStatus();
}

absl::Status Anvil::DeployContracts(absl::string_view app_contract) {
  absl::StatusOr<ContractArtifact> app = LoadArtifact(app_contract);
  if (!app.ok()) return app.status();
  absl::StatusOr<ContractArtifact> kms = LoadArtifact("DstackKms");
  if (!kms.ok()) return kms.status();
  absl::StatusOr<std::string> impl = Deploy(app->bytecode);
  if (!impl.ok()) {
    return absl::Status(impl.status().code(), absl::StrCat("deploying ", app_contract, ": ", impl.status().message()));
  }
  // constructor(address initialOwner, address appImplementation)
  absl::StatusOr<std::string> factory = Deploy(kms->bytecode + AbiWord(kDeployerAddress) + AbiWord(*impl));
  if (!factory.ok()) {
    return absl::Status(factory.status().code(), absl::StrCat("deploying DstackKms: ", factory.status().message()));
  }
  chain_.app_implementation = *impl;
  chain_.kms_address = *factory;
  return absl::OkStatus();
}

Anvil::~Anvil() {
  doctor_.reset();
  if (!Exited()) {
    // SIGCONT too, in case a test left it paused (a stopped process keeps SIGTERM pending).
    ::kill(-pid_, SIGTERM);
    ::kill(-pid_, SIGCONT);
    const absl::Time deadline = absl::Now() + absl::Seconds(3);
    while (!Exited() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
    if (!Exited()) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      reaped_ = true;
    }
  }
  ::unlink(log_path_.c_str());
}

bool Anvil::Exited() {
  if (reaped_) return true;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) reaped_ = true;
  return reaped_;
}

std::string Anvil::LogTail() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > 2000) s = "..." + s.substr(s.size() - 2000);
  return s.empty() ? "(no output)" : s;
}

absl::StatusOr<json::value> Anvil::Call(absl::string_view method, json::array params) const {
  return rpc_.Call(method, std::move(params));
}

absl::StatusOr<RpcResponse> Anvil::CallRaw(absl::string_view method, json::array params) const {
  return rpc_.CallRaw(method, std::move(params));
}

absl::StatusOr<std::string> Anvil::SendTransaction(const TxRequest& tx) {
  json::object t{{"from", tx.from.empty() ? chain_.deployer_address : tx.from}, {"data", tx.data}};
  if (!tx.to.empty()) t["to"] = tx.to;
  if (!tx.value.empty()) t["value"] = tx.value;
  if (tx.gas) t["gas"] = ToQuantity(*tx.gas);
  absl::StatusOr<json::value> hash = Call("eth_sendTransaction", {t});
  if (!hash.ok()) return hash.status();
  if (!hash->is_string()) {
    return absl::InternalError(absl::StrCat("eth_sendTransaction returned ", json::serialize(*hash)));
  }
  return std::string(hash->as_string());
}

absl::StatusOr<json::object> Anvil::WaitForReceipt(absl::string_view tx_hash, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<json::value> r = Call("eth_getTransactionReceipt", {Js(tx_hash)});
    if (!r.ok()) return r.status();
    if (r->is_object()) return r->as_object();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no receipt for ", tx_hash, " within ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(kPoll);
  }
}

absl::StatusOr<json::object> Anvil::Transact(const TxRequest& tx) {
  absl::StatusOr<std::string> hash = SendTransaction(tx);
  if (!hash.ok()) return hash.status();
  if (!automine_) {
    RETURN_IF_ERROR(Mine());
  }
  absl::StatusOr<json::object> receipt = WaitForReceipt(*hash);
  if (!receipt.ok()) return receipt.status();
  if (StatusText(*receipt) != "0x1") {
    return absl::AbortedError(absl::StrCat("transaction ", *hash, " reverted (status ", StatusText(*receipt), ")"));
  }
  return receipt;
}

absl::StatusOr<std::string> Anvil::Deploy(absl::string_view creation_code_hex, absl::string_view from) {
  absl::StatusOr<json::object> receipt = Transact({.from = std::string(from), .data = std::string(creation_code_hex)});
  if (!receipt.ok()) return receipt.status();
  const json::value* addr = receipt->if_contains("contractAddress");
  if (addr == nullptr || !addr->is_string()) {
    return absl::InternalError("deploy receipt has no contractAddress");
  }
  return Lower(Av(addr->as_string()));
}

absl::StatusOr<std::string> Anvil::EthCall(absl::string_view to, absl::string_view data_hex,
                                           absl::string_view from) const {
  json::object call{{"to", Js(to)}, {"data", Js(data_hex)}};
  if (!from.empty()) call["from"] = Js(from);
  absl::StatusOr<json::value> r = Call("eth_call", {call, "latest"});
  if (!r.ok()) return r.status();
  if (!r->is_string()) return absl::InternalError(absl::StrCat("eth_call returned ", json::serialize(*r)));
  return std::string(r->as_string());
}

absl::Status Anvil::SetBalance(absl::string_view address, absl::string_view wei_quantity_hex) {
  return Call("anvil_setBalance", {Js(address), Js(wei_quantity_hex)}).status();
}

absl::Status Anvil::FundEther(absl::string_view address, uint64_t ether) {
  absl::StatusOr<chain::U256> wei = chain::U256::CheckedMul(chain::U256(ether), chain::U256(1000000000000000000ULL));
  if (!wei.ok()) return wei.status();
  return SetBalance(address, wei->ToQuantityHex());
}

absl::StatusOr<uint64_t> Anvil::BlockNumber() const {
  absl::StatusOr<json::value> r = Call("eth_blockNumber");
  if (!r.ok()) return r.status();
  if (!r->is_string()) return absl::InternalError("eth_blockNumber: not a string");
  return ParseQuantity(Av(r->as_string()));
}

absl::Status Anvil::Mine(uint64_t blocks) { return Call("anvil_mine", {ToQuantity(blocks)}).status(); }

absl::StatusOr<std::string> Anvil::Snapshot() {
  absl::StatusOr<json::value> r = Call("evm_snapshot");
  if (!r.ok()) return r.status();
  if (!r->is_string()) {
    return absl::InternalError(absl::StrCat("evm_snapshot returned ", json::serialize(*r)));
  }
  return std::string(r->as_string());
}

absl::Status Anvil::Revert(absl::string_view snapshot_id) {
  absl::StatusOr<json::value> r = Call("evm_revert", {Js(snapshot_id)});
  if (!r.ok()) return r.status();
  if (!r->is_bool() || !r->as_bool()) return absl::NotFoundError(absl::StrCat("no snapshot ", snapshot_id));
  return absl::OkStatus();
}

absl::Status Anvil::SetAutomine(bool on) {
  absl::Status s = Call("evm_setAutomine", {on}).status();
  if (s.ok()) automine_ = on;
  return s;
}

absl::Status Anvil::SetIntervalMining(uint64_t seconds) {
  absl::Status s = Call("evm_setIntervalMining", {seconds}).status();
  if (s.ok() && seconds > 0) automine_ = false;
  return s;
}

absl::Status Anvil::DropTransaction(absl::string_view tx_hash) {
  absl::StatusOr<json::value> r = Call("anvil_dropTransaction", {Js(tx_hash)});
  if (!r.ok()) return r.status();
  if (r->is_null()) return absl::NotFoundError(absl::StrCat("transaction ", tx_hash, " is not pending"));
  return absl::OkStatus();
}

absl::Status Anvil::Pause() {
  if (Exited() || ::kill(pid_, SIGSTOP) != 0) return absl::FailedPreconditionError("anvil is not running");
  // kill() only queues the stop; until every thread has stopped, anvil may still answer.
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  while (!AllThreadsStopped(pid_)) {
    if (absl::Now() > deadline) return absl::DeadlineExceededError("anvil did not stop after SIGSTOP");
    absl::SleepFor(absl::Milliseconds(1));
  }
  return absl::OkStatus();
}

absl::Status Anvil::Resume() {
  if (Exited() || ::kill(pid_, SIGCONT) != 0) return absl::FailedPreconditionError("anvil is not running");
  return absl::OkStatus();
}

}  // namespace anvil
