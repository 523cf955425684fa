#include "platform/postgres/testing/test_server.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "platform/postgres/connection.h"

namespace platform::postgres {
namespace {

// True while `pid` runs (a zombie waiting for a reaper that is not us counts as gone).
bool Running(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string pid_field, comm, state;
  return static_cast<bool>(stat >> pid_field >> comm >> state) && state != "Z" && state != "X";
}

TEST(TestServerTest, RunsUnprivilegedAndStopsAndStarts) {
  std::unique_ptr<TestServer> server = *TestServer::Create();
  struct stat st;
  ASSERT_EQ(::stat((server->directory() + "/data").c_str(), &st), 0);
  if (::geteuid() == 0) {
    EXPECT_NE(st.st_uid, 0u) << "PostgreSQL refuses root";
    const passwd* postgres = ::getpwnam("postgres");
    if (postgres != nullptr) EXPECT_EQ(st.st_uid, postgres->pw_uid);
  } else {
    EXPECT_EQ(st.st_uid, ::geteuid());
  }
  const Dsn dsn = *Dsn::Parse(server->DsnText("postgres"), "test");
  EXPECT_TRUE(Connection::Open(dsn).ok());
  ASSERT_TRUE(server->Stop().ok());
  EXPECT_FALSE(server->running());
  EXPECT_EQ(Connection::Open(dsn).status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(server->Start().ok());
  EXPECT_TRUE(Connection::Open(dsn).ok());
  const std::string dir = server->directory();
  server.reset();
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(TestServerTest, ACrashedTestsServerDiesAndItsDirectoryIsRemovedLater) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);  // the server must not inherit the write end
  const pid_t test = ::fork();
  if (test == 0) {  // a test that crashes while its server runs
    absl::StatusOr<std::unique_ptr<TestServer>> server = TestServer::Create();
    const std::string dir = server.ok() ? (*server)->directory() : "";
    (void)!::write(fds[1], dir.data(), dir.size());
    ::close(fds[1]);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  std::string dir;
  char buf[256];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof(buf))) > 0;) dir.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  ASSERT_FALSE(dir.empty());
  std::ifstream pid_file(dir + "/data/postmaster.pid");
  std::string first_line;
  std::getline(pid_file, first_line);
  pid_t postmaster = 0;
  ASSERT_TRUE(absl::SimpleAtoi(first_line, &postmaster)) << first_line;
  ASSERT_TRUE(Running(postmaster));

  ::kill(test, SIGKILL);
  ::waitpid(test, nullptr, 0);
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (Running(postmaster) && absl::Now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Running(postmaster)) << "PDEATHSIG ends the server with its test";
  EXPECT_TRUE(std::filesystem::exists(dir));
  std::unique_ptr<TestServer> next = *TestServer::Create();
  EXPECT_FALSE(std::filesystem::exists(dir)) << "the next Create removes what the crashed test left";
}

}  // namespace
}  // namespace platform::postgres
