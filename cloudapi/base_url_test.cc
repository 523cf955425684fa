#include "cloudapi/base_url.h"

#include <gtest/gtest.h>

namespace cloudapi {
namespace {

TEST(BaseUrl, Parsing) {
  absl::StatusOr<platform::http::Url> u = ParseBaseUrl("https://Cloud-API.phala.com/api/v1/");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "cloud-api.phala.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "/api/v1");
  EXPECT_FALSE(u->IsLoopback());
  EXPECT_EQ(u->Origin(), "https://cloud-api.phala.com:443");
  absl::StatusOr<platform::http::Url> v6 = ParseBaseUrl("http://[::1]:8080");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  EXPECT_EQ(v6->path, "");
  EXPECT_TRUE(v6->IsLoopback());
  EXPECT_EQ(v6->Origin(), "http://[::1]:8080");
  EXPECT_TRUE(ParseBaseUrl("http://localhost/api")->IsLoopback());
  EXPECT_TRUE(ParseBaseUrl("http://127.1.2.3/")->IsLoopback());
  EXPECT_FALSE(ParseBaseUrl("http://127.0.0.1:0/").ok());
  EXPECT_FALSE(ParseBaseUrl("https://h/?q=1").ok());
  EXPECT_FALSE(ParseBaseUrl("https://h/#f").ok());
  EXPECT_FALSE(ParseBaseUrl("https://k:secret@host/").ok());
  EXPECT_EQ(ParseBaseUrl("https://k:secret@host/").status().message(), "base url: user info is not allowed");
}

}  // namespace
}  // namespace cloudapi
