// Test-only: a throwaway certificate authority and a server certificate it signed, made with
// OpenSSL's API (no `openssl` binary needed), for TLS tests against a loopback server.
#ifndef ONCHAIN_KMS_PLATFORM_HTTP_TESTING_TEST_CERTS_H_
#define ONCHAIN_KMS_PLATFORM_HTTP_TESTING_TEST_CERTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace platform::http::testing {

struct TestPki {
  std::string ca_cert_pem;      // self-signed root, unknown to the system store
  std::string server_cert_pem;  // signed by the root
  std::string server_key_pem;
};

// P-256 keys; the server certificate carries `dns_names` and `ip_addresses` as SANs, is valid
// from an hour ago for a day, and has extendedKeyUsage serverAuth.
absl::StatusOr<TestPki> MakeTestPki(const std::vector<std::string>& dns_names,
                                    const std::vector<std::string>& ip_addresses);

absl::Status WriteTextFile(const std::string& path, const std::string& content);

}  // namespace platform::http::testing

#endif  // ONCHAIN_KMS_PLATFORM_HTTP_TESTING_TEST_CERTS_H_
