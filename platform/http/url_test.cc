#include "platform/http/url.h"

#include <gtest/gtest.h>

namespace platform::http {
namespace {

TEST(Url, SplitsAnHttpsUrl) {
  absl::StatusOr<Url> u = ParseUrl("https://user:p%40ss@RPC.Example.com/v2/KEY?x=1");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "rpc.example.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "/v2/KEY");
  EXPECT_EQ(u->Target(), "/v2/KEY?x=1");
  EXPECT_TRUE(u->has_userinfo);
  EXPECT_EQ(u->userinfo, "user:p@ss");
  EXPECT_EQ(u->Origin(), "https://rpc.example.com:443") << "no path, query or user info";
  EXPECT_EQ(u->HostHeader(), "rpc.example.com");
  EXPECT_FALSE(u->IsLoopback());
  EXPECT_FALSE(u->IsIpLiteral());
}

TEST(Url, Ipv6AndPorts) {
  absl::StatusOr<Url> v6 = ParseUrl("http://[::1]:8545");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_FALSE(v6->tls);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8545);
  EXPECT_EQ(v6->Target(), "/");
  EXPECT_EQ(v6->Origin(), "http://[::1]:8545");
  EXPECT_EQ(v6->HostHeader(), "[::1]:8545");
  EXPECT_TRUE(v6->IsLoopback());
  EXPECT_TRUE(v6->IsIpLiteral());
  EXPECT_EQ(ParseUrl("http://h:80/")->HostHeader(), "h");
  EXPECT_EQ(ParseUrl("https://h:8443/")->HostHeader(), "h:8443");
  EXPECT_TRUE(ParseUrl("http://localhost/api")->IsLoopback());
  EXPECT_TRUE(ParseUrl("http://127.1.2.3/")->IsLoopback());
}

TEST(Url, RejectsWithoutEchoingTheUrl) {
  for (const char* bad :
       {"ws://secret-host/", "not a url", "http://secret-host:0/", "http://secret-host:70000/", "https:///path"}) {
    absl::StatusOr<Url> u = ParseUrl(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(u.status().message().find("secret"), absl::string_view::npos) << u.status();
  }
}

TEST(Url, ReportsQueryAndFragment) {
  absl::StatusOr<Url> u = ParseUrl("https://h/p?#f");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->has_query);
  EXPECT_EQ(u->query, "");
  EXPECT_TRUE(u->has_fragment);
  EXPECT_FALSE(ParseUrl("https://h/p")->has_query);
}

}  // namespace
}  // namespace platform::http
