#include "platform/testing/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

extern char** environ;

namespace platform::testing {
namespace {

// With `output_path`, the child's stdout and stderr are appended to that file.
absl::StatusOr<pid_t> Spawn(const std::string& binary, const std::vector<std::string>& args,
                            const std::vector<std::string>& extra_env, const std::string& output_path = "") {
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  // The parent may block signals (platform::ShutdownSignals); the child starts with none blocked.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  if (!output_path.empty()) {
    posix_spawn_file_actions_addopen(&files, 1, output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&files, 1, 2);
  }
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, binary.c_str(), &files, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return absl::InternalError(absl::StrCat("posix_spawn ", binary, ": ", std::strerror(rc)));
  return pid;
}

// Waits up to `timeout` for `pid`; returns the wait status, or nullopt on timeout.
std::optional<int> WaitFor(pid_t pid, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (absl::Now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

absl::StatusOr<int> ExitCode(const std::string& what, int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) {
    return absl::InternalError(absl::StrCat(what, " died of signal ", WTERMSIG(wait_status)));
  }
  return absl::InternalError(absl::StrCat(what, ": unexpected wait status ", wait_status));
}

}  // namespace

int FreeTcpPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string RunfilePath(const std::string& workspace_relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/", workspace ? workspace : "onchain_kms", "/", workspace_relative);
}

ShortTempDir::ShortTempDir() {
  char tmpl[] = "/tmp/okms-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  if (dir == nullptr) std::abort();
  path_ = dir;
}

ShortTempDir::~ShortTempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

absl::StatusOr<std::string> CheckHealth(const std::string& address, const std::string& service,
                                        absl::Duration timeout) {
  // A private subchannel with short reconnect backoff: polling a server that is still starting
  // must not inherit gRPC's shared, exponentially backed-off subchannel.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  // No GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: in gRPC 1.51 it bounds one connection attempt, and
  // 50 ms would cut a handshake on a loaded machine (the health_probe/kmsctl defect).
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  auto stub =
      grpc::health::v1::Health::NewStub(grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  // Wait for the connection within the deadline: a sync client only reads from a new connection
  // while a call is active, so a fail-fast call would leave it waiting for gRPC's backup poller.
  context.set_wait_for_ready(true);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(const std::string& binary,
                                                                    const std::vector<std::string>& args,
                                                                    const std::string& output_path) {
  absl::StatusOr<pid_t> pid = Spawn(binary, args, {}, output_path);
  if (!pid.ok()) return pid.status();
  return std::unique_ptr<ServerProcess>(new ServerProcess(*pid));
}

ServerProcess::~ServerProcess() {
  if (!Exited()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool ServerProcess::Exited() {
  if (reaped_) return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
    wait_status_ = status;
  }
  return reaped_;
}

absl::Status ServerProcess::WaitUntilServing(const std::string& address, const std::string& service,
                                             absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  std::string last = "no answer";
  while (absl::Now() < until) {
    if (Exited()) {
      absl::StatusOr<int> code = ExitCode("server", wait_status_);
      return absl::FailedPreconditionError(absl::StrCat(
          "server exited before serving: ", code.ok() ? absl::StrCat("exit code ", *code) : code.status().ToString()));
    }
    absl::StatusOr<std::string> health = CheckHealth(address, service, absl::Milliseconds(500));
    if (health.ok() && *health == "SERVING") return absl::OkStatus();
    last = health.ok() ? *health : health.status().ToString();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("not SERVING at ", address, " after ", absl::FormatDuration(timeout), ": ", last));
}

absl::StatusOr<int> ServerProcess::Stop(int signal, absl::Duration timeout) {
  if (!Exited()) {
    ::kill(pid_, signal);
    std::optional<int> status = WaitFor(pid_, timeout);
    if (!status.has_value()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      reaped_ = true;
      return absl::DeadlineExceededError(
          absl::StrCat("server did not exit within ", absl::FormatDuration(timeout), " of signal ", signal));
    }
    reaped_ = true;
    wait_status_ = *status;
  }
  return ExitCode("server", wait_status_);
}

absl::StatusOr<int> RunProgram(const std::string& binary, const std::vector<std::string>& args,
                               const std::vector<std::string>& extra_env, absl::Duration timeout) {
  absl::StatusOr<pid_t> pid = Spawn(binary, args, extra_env);
  if (!pid.ok()) return pid.status();
  std::optional<int> status = WaitFor(*pid, timeout);
  if (!status.has_value()) {
    ::kill(*pid, SIGKILL);
    ::waitpid(*pid, nullptr, 0);
    return absl::DeadlineExceededError(absl::StrCat(binary, " did not finish within ", absl::FormatDuration(timeout)));
  }
  return ExitCode(binary, *status);
}

}  // namespace platform::testing
