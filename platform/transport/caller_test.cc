#include "platform/transport/caller.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>

#include "gtest/gtest.h"

namespace platform {
namespace {

// The journal keys and audit objects are persisted: these strings must never change.
TEST(CallerTest, UnixPeer) {
  const Caller c(Caller::UnixPeer{1000, 100, 42});
  EXPECT_EQ(c.JournalKey(), "uid:1000");
  EXPECT_EQ(c.ToString(), "unix uid=1000 gid=100 pid=42");
  EXPECT_EQ(boost::json::serialize(c.AuditJson()), R"({"transport":"unix","uid":1000,"gid":100,"pid":42})");
}

TEST(CallerTest, AuditJsonInTheStorageItIsGiven) {
  const Caller c(Caller::TlsClient{std::string(64, 'b'), "CN=x", {}, "x", "ipv4:127.0.0.1:7"});
  boost::json::monotonic_resource arena;
  const boost::json::object o = c.AuditJson(boost::json::make_shared_resource<boost::json::monotonic_resource>());
  EXPECT_NE(o.storage().get(), boost::json::storage_ptr().get());
  const boost::json::object in_arena = c.AuditJson(&arena);
  EXPECT_EQ(in_arena.storage().get(), &arena);
  EXPECT_EQ(boost::json::serialize(in_arena), boost::json::serialize(c.AuditJson()));
  EXPECT_EQ(boost::json::serialize(o), boost::json::serialize(c.AuditJson()));
}

TEST(CallerTest, TlsClientByNameAndByFingerprint) {
  Caller::TlsClient client{
      std::string(64, 'a'), "CN=ci-client", {"ci-client", "localhost"}, "ci-client", "ipv4:127.0.0.1:5555"};
  const Caller by_name(client);
  EXPECT_EQ(by_name.JournalKey(), "cert:ci-client");
  EXPECT_EQ(by_name.ToString(), "mtls cert_sha256=" + std::string(64, 'a') + " subject=\"CN=ci-client\"");
  EXPECT_EQ(boost::json::serialize(by_name.AuditJson()),
            R"({"transport":"mtls","cert_sha256":")" + std::string(64, 'a') +
                R"(","subject":"CN=ci-client","peer":"ipv4:127.0.0.1:5555"})");
  client.allowed_name.clear();
  EXPECT_EQ(Caller(client).JournalKey(), "cert:aaaaaaaaaaaaaaaa");
}

TEST(CallerTest, BearerTokenAndInsecureLoopback) {
  const Caller token(Caller::BearerToken{"ci", "ipv6:[::1]:1234"});
  EXPECT_EQ(token.JournalKey(), "token:ci");
  EXPECT_EQ(token.ToString(), "token name=ci");
  EXPECT_EQ(boost::json::serialize(token.AuditJson()), R"({"transport":"token","name":"ci","peer":"ipv6:[::1]:1234"})");
  const Caller insecure(Caller::InsecureLoopback{"ipv4:127.0.0.1:1"});
  EXPECT_EQ(insecure.JournalKey(), "insecure");
  EXPECT_EQ(insecure.ToString(), "insecure-loopback ipv4:127.0.0.1:1");
  EXPECT_EQ(boost::json::serialize(insecure.AuditJson()),
            R"({"transport":"insecure-loopback","peer":"ipv4:127.0.0.1:1"})");
}

}  // namespace
}  // namespace platform
