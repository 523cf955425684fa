#include "crypto/x509_fingerprint.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "crypto/test_hex.h"

namespace crypto {
namespace {

TEST(X509Fingerprint, MatchesOpenSslCli) {
  const std::string dir = std::string(getenv("TEST_TMPDIR"));
  const std::string cmd =
      "cd " + dir +
      " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout k.pem "
      "-out c.pem -subj /CN=client-1/O=example -days 1 2>/dev/null && openssl x509 -in c.pem -noout "
      "-fingerprint -sha256";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[256] = {};
  std::fgets(buf, sizeof(buf), p);
  ::pclose(p);
  std::string expected;
  for (const char* c = std::strchr(buf, '='); c && *++c && *c != '\n';) {
    if (*c != ':') expected.push_back(static_cast<char>(std::tolower(*c)));
  }
  ASSERT_EQ(expected.size(), 64u) << buf;
  std::ifstream in(dir + "/c.pem");
  std::stringstream pem;
  pem << in.rdbuf();
  absl::StatusOr<CertificateIdentity> id = IdentifyPemCertificate(pem.str());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(testing::ToHex(id->sha256), expected);
  EXPECT_NE(id->subject.find("CN=client-1"), std::string::npos) << id->subject;
  EXPECT_FALSE(IdentifyPemCertificate("not a certificate").ok());
}

}  // namespace
}  // namespace crypto
