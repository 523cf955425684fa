// Test-only: a real PostgreSQL 15 server (Debian's /usr/lib/postgresql/15/bin) in a throwaway
// cluster. Create runs initdb into a fresh directory /tmp/okms-pg-<pid>-XXXXXX and starts the
// server on a Unix socket in that directory only (no TCP port, so parallel tests never collide),
// with scram-sha-256 passwords for the superuser "admin" and the application role "app".
//
// PostgreSQL refuses to run as root: when the test runs as root (Bazel in CI does), initdb and
// the server run as the "postgres" user created by Debian's postgresql-common package
// (tools/bootstrap.sh installs it), else as "nobody"; otherwise as the test's own user.
//
// The server runs in its own process group with PR_SET_PDEATHSIG=SIGKILL, so it dies with the
// test even on a crash or a Bazel timeout (the signal comes when the thread that started it ends:
// call Create/Start from the test's main thread). A directory left by a crashed test is removed
// by the next Create once its pid is gone.
#ifndef ONCHAIN_KMS_PLATFORM_POSTGRES_TESTING_TEST_SERVER_H_
#define ONCHAIN_KMS_PLATFORM_POSTGRES_TESTING_TEST_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "platform/postgres/dsn.h"

namespace platform::postgres {

struct TestServerOptions {
  // Durable commits (fsync, full-page writes, synchronous_commit on), as a production server:
  // for benchmarks. Tests leave it off (a test cluster is thrown away, never recovered).
  bool durable = false;
};

class TestServer {
 public:
  static absl::StatusOr<std::unique_ptr<TestServer>> Create(const TestServerOptions& options = {});
  ~TestServer();  // kills the server's process group and removes the directory
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  // Fast shutdown (SIGINT: sessions are ended with 57P01, transactions rolled back), waits for
  // the exit. Start runs the server again on the same data and socket: DSNs stay valid.
  absl::Status Stop();
  absl::Status Start();
  bool running() const { return pid_ > 0; }

  // A new database owned by "app"; returns the path of a DSN file (mode 0600) for it.
  absl::StatusOr<std::string> CreateDatabase(absl::string_view name);
  // The connection string for `dbname` as "app", with `password` (the real one if empty).
  std::string DsnText(absl::string_view dbname, absl::string_view password = "") const;
  // Writes `text` to a new 0600 file in the server's directory; returns its path.
  absl::StatusOr<std::string> WriteDsnFile(absl::string_view name, absl::string_view text) const;

  const std::string& directory() const { return dir_; }
  const std::string& app_password() const { return app_password_; }

 private:
  TestServer(std::string dir, uid_t uid, gid_t gid, bool durable);
  absl::Status InitDb();
  absl::Status WaitUntilAccepting();
  absl::StatusOr<Dsn> AdminDsn() const;

  const std::string dir_;
  const uid_t uid_;  // who initdb and the server run as
  const gid_t gid_;
  const bool durable_;
  const std::string admin_password_;
  const std::string app_password_;
  pid_t pid_ = -1;
};

}  // namespace platform::postgres

#endif  // ONCHAIN_KMS_PLATFORM_POSTGRES_TESTING_TEST_SERVER_H_
