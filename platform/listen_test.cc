#include "platform/listen.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/testing/server_process.h"

namespace platform {
namespace {

using ::testing::HasSubstr;

TEST(ParseListenAddressTest, UnixForms) {
  for (const char* in : {"unix:/tmp/a.sock", "unix:///tmp/a.sock"}) {
    absl::StatusOr<ListenAddress> a = ParseListenAddress(in);
    ASSERT_TRUE(a.ok()) << in << ": " << a.status();
    EXPECT_EQ(a->kind, ListenAddress::Kind::kUnix);
    EXPECT_EQ(a->unix_path, "/tmp/a.sock");
    EXPECT_EQ(a->GrpcUri(), "unix:/tmp/a.sock");
  }
  absl::StatusOr<ListenAddress> rel = ParseListenAddress("unix:run/a.sock");
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(rel->unix_path, "run/a.sock");
}

TEST(ParseListenAddressTest, UnixErrors) {
  EXPECT_EQ(ParseListenAddress("unix:").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseListenAddress("unix://relative").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseListenAddress("unix-abstract:x").status().code(), absl::StatusCode::kInvalidArgument);
  const std::string too_long = "unix:/" + std::string(107, 'a');
  EXPECT_THAT(ParseListenAddress(too_long).status().message(), HasSubstr("longer than 107"));
  EXPECT_TRUE(ParseListenAddress("unix:/" + std::string(106, 'a')).ok());
}

TEST(ParseListenAddressTest, TcpForms) {
  struct Case {
    const char* in;
    const char* host;
    int port;
    bool loopback;
    const char* uri;
  } cases[] = {
      {"127.0.0.1:7443", "127.0.0.1", 7443, true, "127.0.0.1:7443"},
      {"127.1.2.3:0", "127.1.2.3", 0, true, "127.1.2.3:0"},
      {"localhost:1", "localhost", 1, true, "localhost:1"},
      {"LOCALHOST:65535", "LOCALHOST", 65535, true, "LOCALHOST:65535"},
      {"[::1]:7443", "::1", 7443, true, "[::1]:7443"},
      {"0.0.0.0:7443", "0.0.0.0", 7443, false, "0.0.0.0:7443"},
      {"[::]:7443", "::", 7443, false, "[::]:7443"},
      {"10.0.0.5:7443", "10.0.0.5", 7443, false, "10.0.0.5:7443"},
      {"signer.internal:7443", "signer.internal", 7443, false, "signer.internal:7443"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ListenAddress> a = ParseListenAddress(c.in);
    ASSERT_TRUE(a.ok()) << c.in << ": " << a.status();
    EXPECT_EQ(a->kind, ListenAddress::Kind::kTcp) << c.in;
    EXPECT_EQ(a->host, c.host) << c.in;
    EXPECT_EQ(a->port, c.port) << c.in;
    EXPECT_EQ(a->loopback, c.loopback) << c.in;
    EXPECT_EQ(a->GrpcUri(), c.uri) << c.in;
  }
}

TEST(ParseListenAddressTest, TcpErrors) {
  for (const char* in :
       {"", "7443", ":7443", "host:", "host:65536", "host:-1", "host:+80", "host:80x", "::1:7443", "[::1]", "[::1]7443",
        "[nope]:1", "[::1:1", "ho st:1", "dns:x:1", "http://x:1", "ipv4:1.2.3.4:5", "host:123456"}) {
    EXPECT_EQ(ParseListenAddress(in).status().code(), absl::StatusCode::kInvalidArgument) << in;
  }
}

TEST(IsLoopbackHostTest, Cases) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.255.255.254"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("::"));
  EXPECT_FALSE(IsLoopbackHost("localhost.example.com"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.nip.io"));
}

TEST(ValidateListenOptionsTest, PlaintextTcpNeedsLoopbackAndTheExplicitFlag) {
  ListenOptions options;
  auto check = [&](const char* address) { return ValidateListenOptions(*ParseListenAddress(address), options); };
  EXPECT_THAT(check("0.0.0.0:7443").message(), HasSubstr("refused"));
  EXPECT_THAT(check("127.0.0.1:7443").message(), HasSubstr("insecure_loopback"));
  options.insecure_loopback = true;
  EXPECT_TRUE(check("127.0.0.1:7443").ok());
  EXPECT_TRUE(check("[::1]:7443").ok());
  EXPECT_EQ(check("0.0.0.0:7443").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(check("10.1.2.3:7443").code(), absl::StatusCode::kInvalidArgument);
  options.insecure_loopback = false;
  options.tls = TlsFiles{"cert.pem", "key.pem", "ca.pem"};
  EXPECT_TRUE(check("0.0.0.0:7443").ok());
  EXPECT_EQ(check("unix:/tmp/x.sock").code(), absl::StatusCode::kInvalidArgument);  // TLS on a socket
  options.tls = TlsFiles{"cert.pem", "", ""};
  EXPECT_EQ(check("0.0.0.0:7443").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseFileModeTest, Octal) {
  EXPECT_EQ(*ParseFileMode("0600"), 0600u);
  EXPECT_EQ(*ParseFileMode("660"), 0660u);
  EXPECT_EQ(*ParseFileMode("0"), 0u);
  for (const char* bad : {"", "0800", "rw", "1777", "06000", "-600"}) {
    EXPECT_EQ(ParseFileMode(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// Binds a unix socket at `path` (listening when `listen`), returns the fd.
int BindUnix(const std::string& path, bool listen) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0) << std::strerror(errno);
  if (listen) EXPECT_EQ(::listen(fd, 1), 0);
  return fd;
}

TEST(UnixSocketFileTest, NothingThereIsFine) {
  testing::ShortTempDir dir;
  EXPECT_TRUE(RemoveStaleUnixSocket(dir.path() + "/none.sock").ok());
}

TEST(UnixSocketFileTest, StaleSocketIsRemoved) {
  testing::ShortTempDir dir;
  const std::string path = dir.path() + "/stale.sock";
  ::close(BindUnix(path, /*listen=*/false));  // the file stays, nobody listens: stale
  ASSERT_EQ(::access(path.c_str(), F_OK), 0);
  EXPECT_TRUE(RemoveStaleUnixSocket(path).ok());
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
}

TEST(UnixSocketFileTest, LiveSocketIsRefused) {
  testing::ShortTempDir dir;
  const std::string path = dir.path() + "/live.sock";
  const int fd = BindUnix(path, /*listen=*/true);
  absl::Status s = RemoveStaleUnixSocket(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("already listening"));
  EXPECT_EQ(::access(path.c_str(), F_OK), 0);
  ::close(fd);
}

TEST(UnixSocketFileTest, RegularFileIsNeverRemoved) {
  testing::ShortTempDir dir;
  const std::string path = dir.path() + "/file";
  std::ofstream(path) << "keep me";
  EXPECT_THAT(RemoveStaleUnixSocket(path).message(), HasSubstr("not a socket"));
  EXPECT_EQ(::access(path.c_str(), F_OK), 0);
}

TEST(UnixSocketFileTest, PermissionsAndGroup) {
  testing::ShortTempDir dir;
  const std::string path = dir.path() + "/p.sock";
  const int fd = BindUnix(path, /*listen=*/true);
  ASSERT_TRUE(ApplyUnixSocketPermissions(path, 0660, std::to_string(::getgid())).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, ::getgid());
  ASSERT_TRUE(ApplyUnixSocketPermissions(path, 0600, "").ok());
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ApplyUnixSocketPermissions(path, 0600, "no-such-group-okms").code(), absl::StatusCode::kInvalidArgument);
  ::close(fd);
}

TEST(ResolveGroupTest, NamesAndNumbers) {
  EXPECT_EQ(*ResolveGroup("4242"), 4242u);
  EXPECT_EQ(*ResolveGroup("root"), 0u);  // group 0 is "root" wherever we run
  absl::StatusOr<gid_t> unknown = ResolveGroup("no-such-group-okms");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("no-such-group-okms"));
}

TEST(MakeServerCredentialsTest, MissingTlsFilesAreNamed) {
  ListenOptions options;
  options.tls = TlsFiles{"/nonexistent/cert.pem", "/nonexistent/key.pem", ""};
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> c =
      MakeServerCredentials(*ParseListenAddress("0.0.0.0:1"), options);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/cert.pem"));
}

}  // namespace
}  // namespace platform
