// The devchain binary as the demo script uses it: start, read its one JSON line, use the chain,
// SIGTERM, and check that it exits 0 and took anvil down with it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "test/anvil/harness.h"

namespace anvil {
namespace {

namespace json = boost::json;

struct Child {
  pid_t pid = -1;
  int out = -1;
};

Child Spawn(std::vector<std::string> args) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return {};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(p[1], 1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(p[1]);
  return {pid, p[0]};
}

// The first line on `fd`, or "" after `timeout`.
std::string ReadLine(int fd, absl::Duration timeout) {
  std::string line;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    char c;
    if (::read(fd, &c, 1) != 1) break;
    if (c == '\n') return line;
    line.push_back(c);
  }
  return "";
}

// Exit status after `timeout`, or -1 (and SIGKILL) if it is still running.
int WaitExit(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (absl::Now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

TEST(Devchain, PrintsChainAndStopsOnSigterm) {
  const std::string binary =
      absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"), "/test/anvil/devchain");
  const std::string funded = "0x000000000000000000000000000000000000f00d";
  Child child = Spawn({binary, "--chain_id=8453", absl::StrCat("--fund=", funded), "--fund_ether=3"});
  ASSERT_GT(child.pid, 0);
  const std::string line = ReadLine(child.out, absl::Seconds(20));
  ASSERT_FALSE(line.empty()) << "devchain printed nothing";
  json::error_code ec;
  json::value v = json::parse(line, ec);
  ASSERT_FALSE(ec) << line;
  const json::object& o = v.as_object();
  EXPECT_EQ(o.at("chain_id").to_number<uint64_t>(), 8453u);
  EXPECT_EQ(json::value_to<std::string>(o.at("deployer_address")), kDeployerAddress);
  const std::string url = json::value_to<std::string>(o.at("rpc_url"));
  const std::string kms = json::value_to<std::string>(o.at("kms_address"));
  const pid_t anvil_pid = static_cast<pid_t>(o.at("anvil_pid").to_number<int64_t>());

  absl::StatusOr<std::string> id = RunCast({"chain-id", "--rpc-url", url});
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "8453");
  absl::StatusOr<std::string> impl = RunCast({"call", "--rpc-url", url, kms, "appImplementation()(address)"});
  ASSERT_TRUE(impl.ok()) << impl.status();
  EXPECT_EQ(Lower(*impl), json::value_to<std::string>(o.at("app_implementation")));
  absl::StatusOr<std::string> balance = RunCast({"balance", "--rpc-url", url, funded});
  ASSERT_TRUE(balance.ok()) << balance.status();
  EXPECT_EQ(*balance, "3000000000000000000");

  ASSERT_EQ(::kill(child.pid, SIGTERM), 0);
  EXPECT_EQ(WaitExit(child.pid, absl::Seconds(10)), 0);
  ::close(child.out);
  EXPECT_EQ(::kill(anvil_pid, 0), -1);  // anvil was stopped (and reaped) by devchain
  EXPECT_EQ(errno, ESRCH);
  EXPECT_FALSE(RunCast({"chain-id", "--rpc-url", url}).ok());
}

}  // namespace
}  // namespace anvil
