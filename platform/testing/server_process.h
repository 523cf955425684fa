// Test support: run a real server binary as a child process and talk to it.
#ifndef ONCHAIN_KMS_PLATFORM_TESTING_SERVER_PROCESS_H_
#define ONCHAIN_KMS_PLATFORM_TESTING_SERVER_PROCESS_H_

#include <sys/types.h>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace platform::testing {

// Absolute path of a file in the test's runfiles, e.g. "signer/signer".
std::string RunfilePath(const std::string& workspace_relative);

// A TCP port on 127.0.0.1 that nothing listens on right now (bound, then closed): for a server
// the test starts next, or for "connection refused".
int FreeTcpPort();

// A fresh directory under /tmp (short enough for unix socket paths, which TEST_TMPDIR often is
// not), removed with its content on destruction.
class ShortTempDir {
 public:
  ShortTempDir();
  ~ShortTempDir();
  ShortTempDir(const ShortTempDir&) = delete;
  ShortTempDir& operator=(const ShortTempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Calls grpc.health.v1.Health/Check once. Returns the status name ("SERVING", ...) or the error.
absl::StatusOr<std::string> CheckHealth(const std::string& address, const std::string& service,
                                        absl::Duration timeout = absl::Seconds(2));

class ServerProcess {
 public:
  // Starts `binary` with `args` (argv[0] is added); its stdout and stderr go to the test log, or
  // are appended to `output_path` if given (for a test that checks what the process printed).
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(const std::string& binary,
                                                              const std::vector<std::string>& args,
                                                              const std::string& output_path = "");
  // Kills the process (SIGKILL) if it is still running.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Polls Health/Check for `service` at `address` until it answers SERVING. Fails early when the
  // process exits, and with DEADLINE_EXCEEDED after `timeout`.
  absl::Status WaitUntilServing(const std::string& address, const std::string& service = "",
                                absl::Duration timeout = absl::Seconds(30));

  // Sends `signal` (SIGTERM by default) and waits for the exit. Returns the exit code; an error if
  // the process died of a signal or did not exit within `timeout` (it is then killed).
  absl::StatusOr<int> Stop(int signal = SIGTERM, absl::Duration timeout = absl::Seconds(15));

  // True once the process has exited (reaps it).
  bool Exited();

 private:
  explicit ServerProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
  int wait_status_ = 0;
};

// Runs a program to completion (stdout/stderr to the test log) with extra environment entries
// ("NAME=value"). Returns its exit code, or an error if it died of a signal or timed out.
absl::StatusOr<int> RunProgram(const std::string& binary, const std::vector<std::string>& args,
                               const std::vector<std::string>& extra_env, absl::Duration timeout = absl::Seconds(120));

}  // namespace platform::testing

#endif  // ONCHAIN_KMS_PLATFORM_TESTING_SERVER_PROCESS_H_
