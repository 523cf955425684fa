#include "platform/postgres/testing/test_server.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "platform/postgres/connection.h"
#include "platform/status_macros.h"

namespace platform::postgres {
namespace {

constexpr absl::string_view kBin = "/usr/lib/postgresql/15/bin/";
constexpr absl::string_view kPort = "5432";  // only a socket name: the server listens on no TCP port
constexpr absl::string_view kDirPrefix = "okms-pg-";

std::string RandomPassword() {
  absl::BitGen gen;
  return absl::StrCat(absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16),
                      absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16));
}

// Removes /tmp/okms-pg-<pid>-* directories whose test process is gone (it crashed; its server
// died with it through PDEATHSIG).
void RemoveStaleDirectories() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/tmp", ec)) {
    const std::string name = entry.path().filename().string();
    if (!absl::StartsWith(name, kDirPrefix)) continue;
    const std::vector<std::string> parts = absl::StrSplit(name.substr(kDirPrefix.size()), '-');
    int pid = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &pid) || pid <= 0) continue;
    if (::kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove_all(entry.path(), ec);
  }
}

struct ServerUser {
  uid_t uid;
  gid_t gid;
};

absl::StatusOr<ServerUser> ChooseServerUser() {
  if (::geteuid() != 0) return ServerUser{::geteuid(), ::getegid()};
  for (const char* name : {"postgres", "nobody"}) {
    if (const passwd* pw = ::getpwnam(name); pw != nullptr) return ServerUser{pw->pw_uid, pw->pw_gid};
  }
  return absl::FailedPreconditionError("running as root and neither user postgres nor nobody exists");
}

std::string LogPath(const std::string& dir) {
  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  const std::string base = std::filesystem::path(dir).filename().string();
  return outputs != nullptr ? absl::StrCat(outputs, "/", base, ".log") : absl::StrCat(dir, "/server.log");
}

// Forks `args` as uid/gid (when we are root) in its own process group, killed when the calling
// thread ends; stdout and stderr are appended to `log_path`.
absl::StatusOr<pid_t> Spawn(std::vector<std::string> args, ServerUser user, const std::string& log_path) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string env_strings[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"};
  char* envp[] = {env_strings[0].data(), env_strings[1].data(), env_strings[2].data(), nullptr};
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) return absl::InternalError(absl::StrCat("open ", log_path, ": ", std::strerror(errno)));
  const bool drop = ::geteuid() == 0;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {  // only async-signal-safe calls until execve
    ::setpgid(0, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    if (drop && (::setgroups(0, nullptr) != 0 || ::setgid(user.gid) != 0 || ::setuid(user.uid) != 0)) ::_exit(126);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // after setuid, which clears it
    if (::getppid() != parent) ::_exit(125);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), envp);
    ::_exit(127);
  }
  ::close(log);
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  return pid;
}

// The wait status once `pid` exited, or -1 after `timeout`.
int WaitExit(pid_t pid, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    if (absl::Now() >= until) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

absl::Status WriteFile(const std::string& path, absl::string_view content, ServerUser owner) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  const bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
                  (::geteuid() != 0 || ::fchown(fd, owner.uid, owner.gid) == 0);
  ::close(fd);
  if (!ok) return absl::InternalError(absl::StrCat("write ", path, ": ", std::strerror(errno)));
  return absl::OkStatus();
}

}  // namespace

TestServer::TestServer(std::string dir, uid_t uid, gid_t gid, bool durable)
    : dir_(std::move(dir)),
      uid_(uid),
      gid_(gid),
      durable_(durable),
      admin_password_(RandomPassword()),
      app_password_(RandomPassword()) {}

absl::StatusOr<std::unique_ptr<TestServer>> TestServer::Create(const TestServerOptions& options) {
  RemoveStaleDirectories();
  ASSIGN_OR_RETURN(const ServerUser user, ChooseServerUser());
  std::string tmpl = absl::StrCat("/tmp/", kDirPrefix, ::getpid(), "-XXXXXX");
  if (::mkdtemp(tmpl.data()) == nullptr) return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  std::unique_ptr<TestServer> server(new TestServer(tmpl, user.uid, user.gid, options.durable));
  if (::geteuid() == 0 && ::chown(tmpl.c_str(), user.uid, user.gid) != 0) {
    return absl::InternalError(absl::StrCat("chown ", tmpl, ": ", std::strerror(errno)));
  }
  RETURN_IF_ERROR(server->InitDb());
  RETURN_IF_ERROR(server->Start());
  ASSIGN_OR_RETURN(const Dsn admin, server->AdminDsn());
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(admin));
  // The password is our own hex string: nothing to quote.
  RETURN_IF_ERROR(conn->Exec(absl::StrCat("CREATE ROLE app LOGIN PASSWORD '", server->app_password_, "'")));
  return server;
}

absl::Status TestServer::InitDb() {
  const std::string pwfile = absl::StrCat(dir_, "/admin.pw");
  RETURN_IF_ERROR(WriteFile(pwfile, admin_password_, {uid_, gid_}));
  ASSIGN_OR_RETURN(const pid_t pid, Spawn({absl::StrCat(kBin, "initdb"), "-D", absl::StrCat(dir_, "/data"), "-U",
                                           "admin", absl::StrCat("--pwfile=", pwfile), "--auth=scram-sha-256", "-E",
                                           "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
                                          {uid_, gid_}, LogPath(dir_)));
  const int status = WaitExit(pid, absl::Minutes(2));
  ::unlink(pwfile.c_str());
  if (status == -1) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("initdb failed (status ", status, "); see ", LogPath(dir_)));
  }
  return absl::OkStatus();
}

absl::Status TestServer::Start() {
  if (running()) return absl::FailedPreconditionError("postgres test server: already running");
  // fsync and full-page writes off unless durable: a test cluster is thrown away, never recovered.
  const std::string sync = durable_ ? "on" : "off";
  ASSIGN_OR_RETURN(pid_, Spawn({absl::StrCat(kBin, "postgres"), "-D", absl::StrCat(dir_, "/data"), "-k", dir_, "-p",
                                std::string(kPort), "-c", "listen_addresses=", "-c", "fsync=" + sync, "-c",
                                "full_page_writes=" + sync, "-c", "synchronous_commit=" + sync, "-c",
                                "max_connections=60", "-c", "shared_buffers=16MB"},
                               {uid_, gid_}, LogPath(dir_)));
  return WaitUntilAccepting();
}

absl::Status TestServer::WaitUntilAccepting() {
  ASSIGN_OR_RETURN(const Dsn admin, AdminDsn());
  const absl::Time until = absl::Now() + absl::Minutes(1);
  absl::Status last;
  while (absl::Now() < until) {
    if (int status = 0; ::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("postgres exited (status ", status, "); see ", LogPath(dir_)));
    }
    absl::StatusOr<std::unique_ptr<Connection>> conn = Connection::Open(admin);
    if (conn.ok()) return absl::OkStatus();
    last = conn.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat("postgres not accepting connections: ", last.ToString()));
}

absl::Status TestServer::Stop() {
  if (!running()) return absl::FailedPreconditionError("postgres test server: not running");
  const pid_t pid = std::exchange(pid_, -1);
  ::kill(pid, SIGINT);
  const int status = WaitExit(pid, absl::Minutes(1));
  ::kill(-pid, SIGKILL);  // anything of its group still there (none after a clean shutdown)
  if (status == -1) {
    ::waitpid(pid, nullptr, 0);
    return absl::DeadlineExceededError("postgres did not shut down within a minute; killed");
  }
  return absl::OkStatus();
}

TestServer::~TestServer() {
  if (running()) {
    ::kill(pid_, SIGQUIT);  // immediate shutdown
    if (WaitExit(pid_, absl::Seconds(10)) == -1) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::kill(-pid_, SIGKILL);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

absl::StatusOr<Dsn> TestServer::AdminDsn() const {
  return Dsn::Parse(absl::StrCat("host=", dir_, " port=", kPort,
                                 " dbname=postgres user=admin password=", admin_password_, " connect_timeout=2"),
                    "test server admin DSN");
}

std::string TestServer::DsnText(absl::string_view dbname, absl::string_view password) const {
  return absl::StrCat("host=", dir_, " port=", kPort, " dbname=", dbname,
                      " user=app password=", password.empty() ? app_password_ : password);
}

absl::StatusOr<std::string> TestServer::WriteDsnFile(absl::string_view name, absl::string_view text) const {
  const std::string path = absl::StrCat(dir_, "/", name);
  RETURN_IF_ERROR(WriteFile(path, text, {::geteuid(), ::getegid()}));
  return path;
}

absl::StatusOr<std::string> TestServer::CreateDatabase(absl::string_view name) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
        return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_';
      })) {
    return absl::InvalidArgumentError(absl::StrCat("database name must be [a-z0-9_]+: ", name));
  }
  ASSIGN_OR_RETURN(const Dsn admin, AdminDsn());
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(admin));
  RETURN_IF_ERROR(conn->Exec(absl::StrCat("CREATE DATABASE ", name, " OWNER app")));
  return WriteDsnFile(absl::StrCat(name, ".dsn"), DsnText(name));
}

}  // namespace platform::postgres
